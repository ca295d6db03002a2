"""Votes: group agree rates, consensus and divisiveness per comment and per theme."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from pipelines.signals import comment_votes, reaction_table, vote_signals, vote_table


@dataclass
class Tally:
    agree: int = 0
    disagree: int = 0
    passed: int = 0


def test_consensus_and_divisiveness_by_hand() -> None:
    tallies = {
        "0": {"all": Tally(20, 2, 1), "0": Tally(10, 1, 0), "1": Tally(10, 1, 1)},
        "1": {"all": Tally(10, 10, 0), "0": Tally(10, 0, 0), "1": Tally(0, 10, 0)},
        "2": {"all": Tally(1, 1, 0), "0": Tally(1, 0, 0), "1": Tally(0, 1, 0)},
    }
    table = vote_table(tallies)
    assert table.items == ["0", "1", "2"] and table.groups == ["0", "1"]
    votes = comment_votes(table)
    r0 = np.array([11 / 13, 11 / 13])
    r1 = np.array([11 / 12, 1 / 12])
    assert votes.consensus[0] == pytest.approx(np.prod(r0))
    assert votes.divisiveness[0] == pytest.approx(0.0)
    assert votes.divisiveness[1] == pytest.approx(r1[0] - r1[1])
    assert np.isnan(votes.divisiveness[2])  # fewer than three votes in each group
    assert votes.agree_rate[1] == pytest.approx(0.5)
    assert votes.p_adjusted[1] < 0.01 and not votes.p_adjusted[0] < 0.05
    with_pass = comment_votes(table, include_pass=True)
    assert with_pass.group_rates[0, 1] == pytest.approx(11 / 14)


def test_planted_divisive_theme() -> None:
    rng = np.random.default_rng(0)
    n_items = 60
    agree = rng.binomial(30, 0.6, (n_items, 2))
    divisive = np.arange(n_items) >= 45
    agree[divisive, 0] = rng.binomial(30, 0.9, divisive.sum())
    agree[divisive, 1] = rng.binomial(30, 0.15, divisive.sum())
    disagree = 30 - agree
    tallies = {
        str(i): {str(g): Tally(int(agree[i, g]), int(disagree[i, g]), 0) for g in range(2)}
        for i in range(n_items)
    }
    labels = np.repeat([0, 1, 2, 3], 15)
    signals = vote_signals(vote_table(tallies), labels, n_permutations=499)
    divisive_flags = {s.themes[0]: s.flagged for s in signals if s.kind == "divisive_theme"}
    assert divisive_flags == {0: False, 1: False, 2: False, 3: True}
    top = next(s for s in signals if s.kind == "divisive_theme" and s.themes == (3,))
    assert top.evidence["divisive_share"] > 0.8
    assert all(i >= 45 for i in top.exemplars["theme"])


def test_reactions_become_agrees_and_passes() -> None:
    table = reaction_table([["ann", "bob"], ["cy"]], {"ann": "x", "bob": "y", "cy": "y", "di": "y"})
    assert table.groups == ["x", "y"]
    assert table.agree.tolist() == [[1, 1], [0, 1]]
    assert table.passed.tolist() == [[0, 2], [1, 2]]
