"""`compute`: every detector over one analysis, from plain inputs and a config."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from pipelines.embed import unit_rows
from pipelines.signals.analysis import SignalConfig, SignalInputs, compute

CONFIG = SignalConfig(
    alpha=0.05,
    correction="bh",
    min_count=20,
    min_choice_count=10,
    min_sides_count=30,
    min_group_count=5,
    min_votes_count=3,
    max_groups=20,
    permutations=199,
    large_project=10_000,
)


class HashEncoder:
    """Anything with `encode` will do; these vectors depend on the text alone."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = [np.random.default_rng(sum(t.encode())).normal(size=8) for t in texts]
        return unit_rows(np.asarray(rows, dtype=np.float32)).astype(np.float32)


def _corpus(n_per_theme: int = 40) -> tuple[list[str], npt.NDArray[np.float32], list[int]]:
    labels = [t for t in range(3) for _ in range(n_per_theme)]
    texts = [f"note {i} of theme {t}" for i, t in enumerate(labels)]
    return texts, HashEncoder().encode(texts), labels


def test_no_themes_no_signals() -> None:
    texts, X, labels = _corpus()
    result = compute(CONFIG, HashEncoder(), texts, X, labels, SignalInputs(theme_keys=[]))
    assert (result.found, result.scores, result.notes) == ([], {}, [])


def test_labels_beyond_the_stored_themes_are_refused() -> None:
    texts, X, labels = _corpus()
    with pytest.raises(ValueError, match="3 themes"):
        compute(CONFIG, HashEncoder(), texts, X, labels, SignalInputs(theme_keys=["a", "b"]))


def test_planted_dyad_is_flagged_and_sentiment_scored() -> None:
    texts, X, labels = _corpus()
    rng = np.random.default_rng(0)
    steer = [
        (0.05 if i % 2 else 0.95) if t == 0 else float(rng.uniform(0.35, 0.65))
        for i, t in enumerate(labels)
    ]
    inputs = SignalInputs(
        theme_keys=["a", "b", "c"],
        signifiers=[("steer", "dyad", {"poles": ["plan", "emergence"]})],
        values={"steer": steer},
    )
    result = compute(CONFIG, HashEncoder(), texts, X, labels, inputs)
    flagged = {(f.signal.kind, f.signal.themes) for f in result.found if f.signal.flagged}
    assert ("dyad_polarised", (0,)) in flagged
    assert result.scores["sentiment"].shape == (len(texts),)
