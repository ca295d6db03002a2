"""Votes and reactions: group-informed consensus and divisiveness per narrative and per theme.

Votes are agree / disagree / pass counts per narrative (comment) and per participant group (a
Polis opinion group, an organisation, ...). With ``A``, ``D``, ``P`` a group's counts on one
comment, its smoothed agree rate is ``(A + prior) / (A + D + 2 prior)`` (passes left out, as in
the agree rate Polis reports), or ``(A + prior) / (A + D + P + 2 prior)`` with ``include_pass``.

* group-informed consensus: the product over groups of the smoothed agree rates (high only when
  every group agrees);
* divisiveness: the spread (max - min) of the groups' smoothed agree rates; its test is a
  chi-square test of the groups x (agree, disagree) table, with a Monte Carlo fallback for small
  counts.

Chat reactions fit the same shape: a reaction is an agree; members of a group present in the
session who did not react count as passes (`reaction_table`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pipelines.signals._core import (
    Correction,
    FloatArray,
    IntArray,
    Signal,
    adjust_pvalues,
    as_labels,
    finalise,
    permutation_pvalue,
    theme_ids,
)
from pipelines.signals.categorical import contingency_test


class TallyLike(Protocol):
    """Anything with agree / disagree / passed counts (e.g. the Polis parser's `VoteTally`)."""

    agree: int
    disagree: int
    passed: int


@dataclass(frozen=True)
class VoteTable:
    """Vote counts per narrative and group.

    Attributes
    ----------
    items : list of str
        Narrative (comment) ids, one per row.
    groups : list of str
        Group names, one per column.
    agree, disagree, passed : ndarray of int, shape (n_items, n_groups)
        Counts.
    """

    items: list[str]
    groups: list[str]
    agree: IntArray
    disagree: IntArray
    passed: IntArray


def vote_table(
    tallies: Mapping[str, Mapping[str, TallyLike]],
    *,
    items: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    exclude: Sequence[str] = ("all",),
) -> VoteTable:
    """Build a `VoteTable` from tallies keyed by item then group (the Polis parser's shape).

    Parameters
    ----------
    tallies : mapping of str to mapping of str to tally
        ``tallies[item][group]`` with ``agree``, ``disagree`` and ``passed`` counts.
    items : sequence of str or None
        Row order; every key of ``tallies`` (sorted numerically when possible) when ``None``.
    groups : sequence of str or None
        Column order; every group seen (sorted) when ``None``.
    exclude : sequence of str, default=("all",)
        Group keys that are not groups (the everyone-tally).

    Returns
    -------
    VoteTable
    """

    def order(key: str) -> tuple[int, str]:
        return (int(key), "") if key.lstrip("-").isdigit() else (0, key)

    rows = list(items) if items is not None else sorted(tallies, key=order)
    cols = (
        list(groups)
        if groups is not None
        else sorted({g for t in tallies.values() for g in t if g not in exclude}, key=order)
    )
    shape = (len(rows), len(cols))
    agree, disagree, passed = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    for i, item in enumerate(rows):
        for j, g in enumerate(cols):
            tally = tallies.get(item, {}).get(g)
            if tally is not None:
                agree[i, j], disagree[i, j], passed[i, j] = (
                    tally.agree,
                    tally.disagree,
                    tally.passed,
                )
    return VoteTable(rows, cols, agree, disagree, passed)


def reaction_table(
    reactors: Sequence[Sequence[str]],
    member_groups: Mapping[str, str],
    *,
    items: Sequence[str] | None = None,
) -> VoteTable:
    """A `VoteTable` from chat reactions: reacting = agree, present but not reacting = pass.

    Parameters
    ----------
    reactors : sequence of sequence of str
        For each message, the (pseudonymised) authors who reacted to it.
    member_groups : mapping of str to str
        Group of every participant present in the session.
    items : sequence of str or None
        Message ids; ``"0".."n-1"`` when ``None``.

    Returns
    -------
    VoteTable
    """
    cols = sorted(set(member_groups.values()))
    sizes = np.array([sum(1 for g in member_groups.values() if g == c) for c in cols])
    agree = np.zeros((len(reactors), len(cols)), dtype=np.int64)
    for i, people in enumerate(reactors):
        for person in set(people):
            if person in member_groups:
                agree[i, cols.index(member_groups[person])] += 1
    rows = list(items) if items is not None else [str(i) for i in range(len(reactors))]
    return VoteTable(rows, cols, agree, np.zeros_like(agree), sizes[None, :] - agree)


@dataclass(frozen=True)
class CommentVotes:
    """Per-narrative vote statistics.

    Attributes
    ----------
    group_rates : ndarray of shape (n_items, n_groups)
        Smoothed agree rate of each group.
    consensus : ndarray of shape (n_items,)
        Product over groups of the smoothed agree rates.
    divisiveness : ndarray of shape (n_items,)
        Max minus min of the groups' smoothed agree rates (over groups with enough votes).
    agree_rate : ndarray of shape (n_items,)
        Raw agree rate over everyone, ``A / (A + D)`` (``nan`` without votes).
    n_votes : ndarray of int, shape (n_items,)
        Agree + disagree (+ pass) votes.
    p_value, p_adjusted : ndarray of shape (n_items,)
        Test of agree rates differing between groups, raw and corrected over the items tested
        (``nan`` where fewer than two groups have enough votes).
    """

    group_rates: FloatArray
    consensus: FloatArray
    divisiveness: FloatArray
    agree_rate: FloatArray
    n_votes: IntArray
    p_value: FloatArray
    p_adjusted: FloatArray


def comment_votes(
    table: VoteTable,
    *,
    prior: float = 1.0,
    include_pass: bool = False,
    min_group_votes: int = 3,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
) -> CommentVotes:
    """Group agree rates, consensus and divisiveness of each narrative.

    Parameters
    ----------
    table : VoteTable
        The counts.
    prior : float, default=1.0
        Pseudo-count added to agrees and to disagrees (Laplace smoothing).
    include_pass : bool, default=False
        Count passes in the denominator of the agree rate.
    min_group_votes : int, default=3
        Least votes a group needs on an item to enter its divisiveness and test.
    correction : {"holm", "bh"}, default="holm"
        Correction of the per-item divisiveness tests.
    n_permutations : int, default=999
        Permutations of the small-count fallback.
    random_state : int or None, default=0
        Seed of the fallback.

    Returns
    -------
    CommentVotes
    """
    A = table.agree.astype(float)
    D = table.disagree.astype(float)
    P = table.passed.astype(float)
    seen = A + D + (P if include_pass else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = (A + prior) / (seen + 2.0 * prior)
    consensus = np.prod(rates, axis=1)
    enough = seen >= min_group_votes
    masked = np.where(enough, rates, np.nan)
    with np.errstate(invalid="ignore"):
        spread = np.where(
            enough.sum(axis=1) >= 2,
            np.nanmax(np.where(enough, masked, -np.inf), axis=1)
            - np.nanmin(np.where(enough, masked, np.inf), axis=1),
            np.nan,
        )
    total = A.sum(axis=1) + D.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        agree_rate = np.where(total > 0, A.sum(axis=1) / total, np.nan)
    rng = np.random.default_rng(random_state)
    p = np.full(A.shape[0], np.nan)
    for i in range(A.shape[0]):
        cols = np.flatnonzero(enough[i] & ((A[i] + D[i]) > 0))
        if cols.size < 2 or (A[i, cols].sum() == 0 or D[i, cols].sum() == 0):
            continue
        group_codes = np.repeat(np.arange(cols.size), (A[i, cols] + D[i, cols]).astype(int))
        agreed = np.concatenate(
            [np.r_[np.ones(int(A[i, c])), np.zeros(int(D[i, c]))] for c in cols]
        ).astype(bool)
        res = contingency_test(
            group_codes, agreed, cols.size, n_permutations=n_permutations, rng=rng
        )
        p[i] = res["p_value"]
    n_votes = (table.agree + table.disagree + (table.passed if include_pass else 0)).sum(axis=1)
    return CommentVotes(
        group_rates=rates,
        consensus=consensus,
        divisiveness=spread,
        agree_rate=agree_rate,
        n_votes=np.asarray(n_votes, dtype=np.int64),
        p_value=p,
        p_adjusted=adjust_pvalues(p, correction),
    )


def vote_signals(
    table: VoteTable,
    labels: npt.ArrayLike,
    *,
    votes: CommentVotes | None = None,
    min_count: int = 3,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
    n_exemplars: int = 3,
    prior: float = 1.0,
    include_pass: bool = False,
    min_group_votes: int = 3,
) -> list[Signal]:
    """Divisive and consensus themes from the votes on their narratives.

    For each theme with at least ``min_count`` voted narratives, two one-sided permutation tests
    (theme membership reshuffled among the voted narratives): is the theme's mean divisiveness
    higher than the rest's (``divisive_theme``), and is its mean consensus higher
    (``consensus_theme``)? All tests of the call are corrected together.

    Parameters
    ----------
    table : VoteTable
        Vote counts, one row per narrative in ``labels`` order.
    labels : array-like of int
        Theme of each narrative (row of ``table``).
    votes : CommentVotes or None
        Precomputed `comment_votes`; computed with ``prior``, ``include_pass`` and
        ``min_group_votes`` when ``None``.
    min_count : int, default=3
        Least number of voted narratives a theme (and the rest) needs to be tested.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over every test of the call.
    n_permutations : int, default=999
        Permutations per test.
    random_state : int or None, default=0
        Seed.
    n_exemplars : int, default=3
        Exemplars: the theme's most divisive (or most consensual) narratives and, for divisive
        themes, the groups agreeing most and least.
    prior, include_pass, min_group_votes
        As in `comment_votes`.

    Returns
    -------
    list of Signal
        Strength: the theme's mean divisiveness (or mean consensus). The evidence holds the rest's
        mean, the theme's share of individually divisive narratives and each group's mean agree
        rate in the theme.
    """
    stats_ = votes or comment_votes(
        table, prior=prior, include_pass=include_pass, min_group_votes=min_group_votes
    )
    lab = as_labels(labels, len(table.items))
    rng = np.random.default_rng(random_state)
    drafts: list[dict[str, Any]] = []
    for measure, kind, values in (
        ("divisiveness", "divisive_theme", stats_.divisiveness),
        ("consensus", "consensus_theme", stats_.consensus),
    ):
        ok = np.isfinite(values)
        v, lab_ok, idx = values[ok], lab[ok], np.flatnonzero(ok)
        n = v.size
        for t in theme_ids(lab_ok):
            inside = lab_ok == t
            k = int(inside.sum())
            if k < min_count or n - k < min_count:
                continue
            observed = float(v[inside].mean() - v[~inside].mean())
            member = np.argsort(rng.random((n_permutations, n)), axis=1) < k
            null = member.astype(float) @ v / k - (~member).astype(float) @ v / (n - k)
            order = np.argsort(-v[inside], kind="stable")[:n_exemplars]
            theme_rows = idx[inside]
            group_means = stats_.group_rates[theme_rows].mean(axis=0)
            evidence: dict[str, Any] = {
                "measure": measure,
                "theme_mean": float(v[inside].mean()),
                "rest_mean": float(v[~inside].mean()),
                "n_items": k,
                "group_agree_rates": dict(zip(table.groups, group_means.tolist(), strict=True)),
                "divisive_share": float(
                    np.mean(np.nan_to_num(stats_.p_adjusted[theme_rows], nan=1.0) <= alpha)
                ),
            }
            drafts.append(
                {
                    "kind": kind,
                    "themes": (t,),
                    "strength": float(v[inside].mean()),
                    "strength_name": f"mean_{measure}",
                    "test": "permutation_mean_difference",
                    "p_value": permutation_pvalue(observed, null),
                    "evidence": evidence,
                    "exemplars": {"theme": tuple(int(i) for i in theme_rows[order])},
                }
            )
    return finalise(drafts, alpha=alpha, correction=correction)
