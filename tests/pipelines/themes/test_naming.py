"""Theme names: short phrases from the theme's own texts, distinct among siblings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.embed import FloatMatrix, HashEmbedder
from pipelines.themes import ThemeDescriber, find_themes
from pipelines.themes.naming import MAX_NAME_WORDS, fallback_name, spans
from tests.pipelines.themes.test_api import _corpus
from tests.pipelines.themes.test_describe import LABELS, TEXTS

TOPICS = ("nurse", "pharmacy", "parking")


def _topic_vectors(texts: Sequence[str]) -> FloatMatrix:
    """A vector per text pointing at the topic its words name (a fourth axis for none)."""
    rows = []
    for text in texts:
        low = text.lower()
        row = np.array([float(w in low) for w in (*TOPICS, "insulin")] + [0.1])
        rows.append(row / np.linalg.norm(row))
    return np.asarray(rows, dtype=np.float32)


class CountingEmbedder:
    """Topic vectors for phrases, counting the calls made."""

    name = "topics"
    dimension = 5

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        return _topic_vectors(texts)


def test_names_are_short_phrases_from_the_themes_own_texts() -> None:
    d = ThemeDescriber().fit(TEXTS, LABELS, _topic_vectors(TEXTS))
    for t, name in enumerate(d.theme_labels_):
        assert 1 <= len(name.split()) <= MAX_NAME_WORDS
        members = [TEXTS[i].lower() for i in np.flatnonzero(t == LABELS)]
        assert any(name.lower() in text for text in members), name
        assert "," not in name
    assert "nurs" in d.theme_labels_[0].lower()
    assert "pharmacy" in d.theme_labels_[1].lower() or "insulin" in d.theme_labels_[1].lower()
    assert "park" in d.theme_labels_[2].lower()


def test_a_theme_of_stop_words_is_named_by_its_most_central_text() -> None:
    texts = ["Nothing.", "nothing", "Nothing at all", "parking costs", "parking fees"]
    labels = np.array([0, 0, 0, 1, 1])
    vectors = np.array([[1, 0], [0.9, 0.1], [0.7, 0.3], [0, 1], [0.1, 0.9]], dtype=np.float32)
    d = ThemeDescriber().fit(texts, labels, vectors)
    assert d.keywords_[0] == []
    assert d.theme_labels_[0] == "nothing"  # the text nearest the centroid, as written
    assert "(no keywords)" not in d.theme_labels_


def test_sibling_themes_never_share_a_name() -> None:
    # two themes of the same words (as "Nothing." and "Nothing" were), and two of one phrase
    texts = ["Nothing."] * 4 + ["Nothing"] * 4 + ["car park full"] * 3 + ["car park full!"] * 3
    labels = np.array([0] * 4 + [1] * 4 + [2] * 3 + [3] * 3)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(texts), 8))
    for embeddings in (None, vectors):
        names = ThemeDescriber().fit(texts, labels, embeddings).theme_labels_
        keys = [" ".join(n.lower().strip(".!").split()) for n in names]
        assert len(set(keys)) == 4, names


def test_candidates_are_embedded_in_one_batch() -> None:
    embedder = CountingEmbedder()
    d = ThemeDescriber().fit(TEXTS, LABELS, _topic_vectors(TEXTS), phrase_embedder=embedder)
    assert embedder.calls == 1
    assert "nurs" in d.theme_labels_[0].lower()
    assert "park" in d.theme_labels_[2].lower()


def test_a_name_is_drawn_again_without_the_narrative_it_came_from() -> None:
    texts = [
        "zorblaxian beds are short",
        "zorblaxian beds again",
        "no beds on the ward tonight",
        "parking costs too much",
        "parking fees for visitors",
    ]
    labels = np.array([0, 0, 0, 1, 1])
    before = ThemeDescriber().fit(texts, labels, _topic_vectors(texts)).theme_labels_[0]
    kept = [2, 3, 4]  # the two narratives using the word are deleted
    after = (
        ThemeDescriber()
        .fit([texts[i] for i in kept], labels[kept], _topic_vectors([texts[i] for i in kept]))
        .theme_labels_[0]
    )
    assert "zorblaxian" in before.lower()
    assert "zorblaxian" not in after.lower() and "beds" in after.lower()


def test_spans_stay_inside_a_clause_and_end_on_content_words() -> None:
    found = {c.surface for c in spans("Beds are short, the ward is full", _content, _stem)}
    assert "Beds are short" in found and "ward is full" in found
    assert not any("," in s or s.startswith("the") or s.endswith("is") for s in found)


def test_fallback_name_is_cut_to_six_words() -> None:
    assert fallback_name("Nothing.") == "Nothing"
    long = "I do not have anything else to say at all"
    assert fallback_name(long) == "I do not have anything else\u2026"


def _content(word: str) -> bool:
    return word.lower() not in {"are", "the", "is"}


def _stem(word: str) -> str:
    return word.lower()


class HashPhrases:
    """Vectors of any dimension for phrases, counting the batches asked for."""

    name = "hash"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        return HashEmbedder(self.dimension).encode(texts)


def test_find_themes_embeds_the_candidates_of_a_level_in_one_batch() -> None:
    texts, X, _ = _corpus([40, 35, 30])
    embedder = HashPhrases(X.shape[1])
    result = find_themes(texts, X, with_map=False, embedder=embedder)
    assert 1 <= embedder.calls <= 2  # the themes, then the sub-themes when there are any
    assert result.parameters["names_embedded"] is True
    names = [t.label.lower() for t in result.themes]
    assert len(set(names)) == len(names)
    assert find_themes(texts, X, with_map=False).parameters["names_embedded"] is False
