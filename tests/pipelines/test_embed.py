"""The packaged model loads offline and gives unit vectors where similar texts lie close."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.embed import DEFAULT_MODEL_NAME, SentenceTransformerEmbedder, text_hash


def test_text_hash_ignores_spacing_but_not_words() -> None:
    assert text_hash("Beds  were\nblocked ") == text_hash("Beds were blocked")
    assert text_hash("Beds were blocked") != text_hash("beds were blocked today")


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size=8)


def test_packaged_model_embeds(model: SentenceTransformerEmbedder) -> None:
    assert model.name == DEFAULT_MODEL_NAME
    assert model.dimension == 384
    vectors = model.encode(
        [
            "The ward ran out of beds again",
            "There were no free beds on the ward",
            "Our football team won the cup final",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3
    assert model.encode([]).shape == (0, 384)


def test_packaged_model_counts_word_pieces(model: SentenceTransformerEmbedder) -> None:
    counts = model.count_tokens(["beds", "The ward ran out of beds again", "word " * 300])
    assert counts[0] == 1 and 6 <= counts[1] <= 9
    # counted whole, past the length the model reads
    assert counts[2] == 300 > model.max_tokens == 256
    assert model.count_tokens([]) == []


def test_loading_the_model_draws_no_progress_bar(capfd: pytest.CaptureFixture[str]) -> None:
    # each of a server's processes loads the model; the bar filled its log with one line each
    SentenceTransformerEmbedder(batch_size=8)
    assert "Loading weights" not in capfd.readouterr().err
