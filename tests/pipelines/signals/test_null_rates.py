"""Null case: on shuffled data nothing may be flagged more often than the nominal level.

Each detector runs on 100 shuffled copies of a data set; a run is a false positive when any
signal of the run is flagged. Every test is exact or conservative and Holm's correction keeps the
family-wise error rate of a run at most ``alpha = 0.05``. The rate observed over 100 runs is itself
an estimate (standard error about 0.022 at 0.05), so the check fails when it exceeds the nominal
level by more than two standard errors, and the observed rates are printed (``pytest -s``).
Shuffling keeps each variable's overall distribution and breaks its link with the themes (or
groups, or content).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from pipelines.signals import (
    Signal,
    axis_signals,
    choice_signals,
    comment_votes,
    dyad_signals,
    group_divergence_signals,
    mixed_sentiment_signals,
    opposing_sides_signals,
    stones_signals,
    triad_signals,
    vote_signals,
)
from pipelines.signals.votes import VoteTable

ALPHA = 0.05
RUNS = 100
PERMS = 199


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


Detector = Callable[[np.random.Generator], list[Signal]]


def _detectors() -> dict[str, Detector]:
    base = np.random.default_rng(12345)
    n = 240
    labels = np.repeat([0, 1, 2, 3], n // 4)
    dyad = base.uniform(0, 1, n)  # the least favourable unimodal case of the band test
    triad = base.dirichlet([3, 3, 3], n)
    triad[-60:] = base.dirichlet([8, 2, 2], 60)
    triad[:5] = [1.0, 0.0, 0.0]
    single = [str(o) for o in base.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05])]
    multi = [[o for o in ("a", "b", "c") if base.random() < 0.3] for _ in range(n)]
    stones = base.uniform(0, 1, (n, 2))
    k = int(0.15 * n)  # strong shares exactly at min_share: the least favourable null
    sentiment = np.r_[
        base.uniform(0.5, 1, k), base.uniform(-1, -0.5, k), base.uniform(-0.25, 0.25, n - 2 * k)
    ]
    d = 32
    X = _unit(base.normal(size=(n, d)) + 2 * _unit(base.normal(size=(4, d)))[labels])
    texts = [f"story number {i} about item {i % 7}" for i in range(n)]
    seed = base.normal(size=n)
    left, right = _unit(base.normal(size=(2, d)))
    groups = np.array(["north", "south", "east"])[np.arange(n) % 3]
    scalar = base.normal(size=n)
    agree = base.binomial(30, 0.6, (80, 2))
    agree[60:, 0] = base.binomial(30, 0.9, 20)
    agree[60:, 1] = base.binomial(30, 0.15, 20)
    votes = VoteTable(
        [str(i) for i in range(80)], ["0", "1"], agree, 30 - agree, np.zeros_like(agree)
    )
    vote_labels = np.repeat([0, 1, 2, 3], 20)
    per_comment = comment_votes(votes)

    def shuffled(rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(labels)

    return {
        "dyad": lambda r: dyad_signals(dyad, shuffled(r)),
        "triad": lambda r: triad_signals(
            triad, shuffled(r), n_permutations=PERMS, random_state=int(r.integers(1 << 30))
        ),
        "choice_single": lambda r: choice_signals(single, shuffled(r), n_permutations=PERMS),
        "choice_multi": lambda r: choice_signals(multi, shuffled(r), n_permutations=PERMS),
        "stones": lambda r: stones_signals(stones, shuffled(r), n_permutations=PERMS),
        "sentiment_mixed": lambda r: mixed_sentiment_signals(sentiment, shuffled(r)),
        "opposing_sides": lambda r: opposing_sides_signals(
            texts,
            X,
            labels,
            r.permutation(seed),
            n_permutations=PERMS,
            random_state=int(r.integers(1 << 30)),
        ),
        "axis": lambda r: axis_signals(X, shuffled(r), left, right),
        "groups_scalar": lambda r: group_divergence_signals(
            scalar, labels, list(r.permutation(groups))
        ),
        "groups_triad": lambda r: group_divergence_signals(
            triad,
            labels,
            list(r.permutation(groups)),
            variable="triad",
            n_permutations=PERMS,
            random_state=int(r.integers(1 << 30)),
        ),
        "votes": lambda r: vote_signals(
            votes,
            r.permutation(vote_labels),
            votes=per_comment,
            n_permutations=PERMS,
            random_state=int(r.integers(1 << 30)),
        ),
    }


DETECTORS = _detectors()


def false_positive_rate(detector: Detector, runs: int = RUNS, seed: int = 0) -> float:
    """Share of shuffled runs with any flagged signal (consensus is not a finding of change)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(runs):
        signals = detector(rng)
        hits += any(s.flagged for s in signals if s.kind != "group_consensus")
    return hits / runs


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_false_positive_rate_at_most_nominal(name: str) -> None:
    rate = false_positive_rate(DETECTORS[name])
    print(f"null false-positive rate {name}: {rate:.2f}")
    assert rate <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / RUNS)
