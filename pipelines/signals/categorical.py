"""Stones and multiple choice: quadrant and choice shares per theme against the rest.

Every test is a theme-versus-rest contingency table. The chi-square test is used when every
expected count is at least ``min_expected``; otherwise the small-count fallback is a Monte Carlo
permutation test of the same chi-square statistic (theme membership reshuffled), which is exact up
to Monte Carlo error whatever the counts. Cells are explained by adjusted standardised residuals
(Haberman): beyond about +-2 a cell holds clearly more (or fewer) of the theme than expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from pipelines.signals._core import (
    Correction,
    FloatArray,
    IntArray,
    Signal,
    as_labels,
    finalise,
    permutation_pvalue,
    theme_ids,
)

#: The four quadrants of a stones canvas (x to the right, y to the top, split at 0.5).
QUADRANTS = ("low_x_low_y", "high_x_low_y", "low_x_high_y", "high_x_high_y")


def quadrants(xy: npt.ArrayLike) -> IntArray:
    """Quadrant of each stone position (split at 0.5 on both axes).

    Parameters
    ----------
    xy : array-like of shape (n, 2)
        ``(x, y)`` per narrative in ``[0, 1]``; ``nan`` rows = stone not placed.

    Returns
    -------
    ndarray of int
        Index into `QUADRANTS`, ``-1`` for a missing stone.
    """
    pos = np.asarray(xy, dtype=float).reshape(-1, 2)
    out = (pos[:, 0] >= 0.5).astype(np.int64) + 2 * (pos[:, 1] >= 0.5).astype(np.int64)
    out[~np.all(np.isfinite(pos), axis=1)] = -1
    return out


def stone_positions(
    values: Sequence[Mapping[str, Mapping[str, float]] | None], stone: str
) -> FloatArray:
    """The positions of one stone, from stored stones values.

    Parameters
    ----------
    values : sequence of mapping or None
        Per narrative ``{stone_key: {"x": float, "y": float}}`` or ``None`` (not applicable).
    stone : str
        The stone's key.

    Returns
    -------
    ndarray of shape (n, 2)
        ``(x, y)`` per narrative, ``nan`` where the stone was not placed.
    """
    out = np.full((len(values), 2), np.nan)
    for i, v in enumerate(values):
        if v and stone in v and v[stone] is not None:
            out[i] = (float(v[stone]["x"]), float(v[stone]["y"]))
    return out


def adjusted_residuals(table: npt.ArrayLike) -> FloatArray:
    """Haberman's adjusted standardised residuals of a two-way table.

    Parameters
    ----------
    table : array-like of shape (r, c)
        Observed counts.

    Returns
    -------
    ndarray of shape (r, c)
        ``(O - E) / sqrt(E (1 - row share) (1 - column share))``, approximately standard normal
        under independence; 0 where undefined.
    """
    obs = np.asarray(table, dtype=float)
    total = obs.sum()
    rows = obs.sum(axis=1, keepdims=True)
    cols = obs.sum(axis=0, keepdims=True)
    expected = rows @ cols / total
    var = expected * (1 - rows / total) * (1 - cols / total)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = (obs - expected) / np.sqrt(var)
    return np.asarray(np.where(np.isfinite(res), res, 0.0), dtype=float)


def _chi2_many(tables: FloatArray) -> FloatArray:
    """Pearson's statistic of each table in a stack (last two axes are the table)."""
    rows = tables.sum(axis=-1, keepdims=True)
    cols = tables.sum(axis=-2, keepdims=True)
    expected = rows * cols / tables.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (tables - expected) ** 2 / expected, 0.0)
    return np.asarray(terms.sum(axis=(-2, -1)), dtype=float)


def _chi2(table: FloatArray) -> float:
    return float(_chi2_many(table[None])[0])


def contingency_test(
    categories: IntArray,
    inside: npt.NDArray[np.bool_],
    n_categories: int,
    *,
    min_expected: float = 5.0,
    n_permutations: int = 999,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Chi-square test of a 2 x K table (theme vs rest by category), with a small-count fallback.

    Parameters
    ----------
    categories : ndarray of int
        Category of each unit, ``0..n_categories-1``.
    inside : ndarray of bool
        Whether each unit belongs to the theme.
    n_categories : int
        Number of categories K.
    min_expected : float, default=5.0
        Least expected count for the chi-square approximation; below it the permutation test runs.
    n_permutations : int, default=999
        Permutations of the fallback.
    rng : numpy Generator or None
        Random source of the fallback.

    Returns
    -------
    dict
        ``statistic``, ``p_value``, ``test`` (``"chi_square"`` or ``"chi_square_permutation"``),
        ``cramers_v``, ``table`` (2 x K, theme row first), ``expected`` and ``residuals``.
    """
    table = np.zeros((2, n_categories))
    np.add.at(table, (np.where(inside, 0, 1), categories), 1)
    used = table.sum(axis=0) > 0
    t_used = table[:, used]
    expected = t_used.sum(axis=1, keepdims=True) @ t_used.sum(axis=0, keepdims=True) / t_used.sum()
    statistic = _chi2(t_used)
    k = t_used.shape[1]
    if k < 2:
        p_value, test = 1.0, "chi_square"
    elif expected.min() >= min_expected:
        p_value = float(stats.chi2.sf(statistic, k - 1))
        test = "chi_square"
    else:
        gen = rng if rng is not None else np.random.default_rng(0)
        n, m = categories.size, int(inside.sum())
        member = np.argsort(gen.random((n_permutations, n)), axis=1) < m
        onehot = np.zeros((n, n_categories))
        onehot[np.arange(n), categories] = 1.0
        theme_counts = member.astype(float) @ onehot[:, used]
        col = t_used.sum(axis=0)
        null_tables = np.stack([theme_counts, col[None, :] - theme_counts], axis=1)
        null = _chi2_many(null_tables)
        p_value = permutation_pvalue(statistic, null)
        test = "chi_square_permutation"
    n_total = table.sum()
    # Cramer's V of a 2 x K table: min(rows, columns) - 1 is 1
    v = float(np.sqrt(statistic / n_total)) if n_total else 0.0
    residuals = np.zeros_like(table)
    residuals[:, used] = adjusted_residuals(t_used)
    full_expected = np.zeros_like(table)
    full_expected[:, used] = expected
    return {
        "statistic": statistic,
        "p_value": p_value,
        "test": test,
        "cramers_v": v,
        "table": table,
        "expected": full_expected,
        "residuals": residuals,
    }


@dataclass(frozen=True)
class ChoiceShares:
    """Share of narratives choosing each option (or in each quadrant), for one group.

    Attributes
    ----------
    n : int
        Narratives that answered.
    shares : dict of str to float
        Share per option; for multi-choice questions shares can sum to more than 1.
    """

    n: int
    shares: dict[str, float]


def _drivers(names: Sequence[str], residuals: FloatArray, threshold: float) -> list[dict[str, Any]]:
    order = np.argsort(-np.abs(residuals), kind="stable")
    return [
        {
            "option": names[i],
            "residual": float(residuals[i]),
            "direction": "over" if residuals[i] > 0 else "under",
        }
        for i in order
        if abs(residuals[i]) >= threshold
    ]


def _options_of(
    values: Sequence[str | Sequence[str] | None], options: Sequence[str] | None
) -> list[str]:
    if options is not None:
        return list(options)
    seen: dict[str, None] = {}
    for v in values:
        if v is None:
            continue
        for o in [v] if isinstance(v, str) else v:
            seen.setdefault(o, None)
    return list(seen)


def choice_shares(
    values: Sequence[str | Sequence[str] | None],
    labels: npt.ArrayLike,
    options: Sequence[str] | None = None,
) -> dict[int, ChoiceShares]:
    """Option shares per theme (key ``-1`` = the whole project).

    Parameters
    ----------
    values : sequence of str, sequence of str, or None
        One answer per narrative: an option key, a list of keys (multi-choice) or ``None``.
    labels : array-like of int
        Theme of each narrative.
    options : sequence of str or None
        Option keys in display order; inferred from the data when ``None``.

    Returns
    -------
    dict of int to ChoiceShares
    """
    lab = as_labels(labels, len(values))
    names = _options_of(values, options)
    position = {o: i for i, o in enumerate(names)}
    chosen = np.zeros((len(values), len(names)), dtype=bool)
    answered = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            continue
        answered[i] = True
        for o in [v] if isinstance(v, str) else v:
            if o in position:
                chosen[i, position[o]] = True

    def shares(mask: npt.NDArray[np.bool_]) -> ChoiceShares:
        m = mask & answered
        n = int(m.sum())
        frac = chosen[m].mean(axis=0) if n else np.zeros(len(names))
        return ChoiceShares(n, {o: float(f) for o, f in zip(names, frac, strict=True)})

    out = {-1: shares(np.ones(len(values), dtype=bool))}
    for t in theme_ids(lab):
        out[t] = shares(lab == t)
    return out


def choice_signals(
    values: Sequence[str | Sequence[str] | None],
    labels: npt.ArrayLike,
    *,
    subject: str | None = None,
    options: Sequence[str] | None = None,
    multiple: bool | None = None,
    min_count: int = 10,
    min_expected: float = 5.0,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
    residual_threshold: float = 2.0,
    n_exemplars: int = 3,
    kind: str = "choice_shift",
) -> list[Signal]:
    """Choice shares of each theme against the rest of the project.

    A single-choice question gives one 2 x K test per theme. A multi-choice question gives one
    2 x 2 test (chosen / not chosen) per theme and option. All tests of the call are corrected
    together.

    Parameters
    ----------
    values : sequence of str, sequence of str, or None
        One answer per narrative: an option key, a list of keys, or ``None`` (not answered / not
        applicable, left out).
    labels : array-like of int
        Theme of each narrative; ``-1`` only counts as "rest".
    subject : str or None
        The question's key, copied into each signal.
    options : sequence of str or None
        Option keys; inferred when ``None``.
    multiple : bool or None
        Multi-choice question; inferred from the values (any list) when ``None``.
    min_count : int, default=10
        Least number of answers the theme and the rest need to be tested.
    min_expected : float, default=5.0
        Least expected cell count for the chi-square approximation (else the permutation fallback).
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over every test of the call.
    n_permutations : int, default=999
        Permutations of the small-count fallback.
    random_state : int or None, default=0
        Seed of the fallback.
    residual_threshold : float, default=2.0
        Cells whose adjusted residual reaches this magnitude are named as drivers.
    n_exemplars : int, default=3
        Exemplars: theme narratives holding the most over-represented option.
    kind : str, default="choice_shift"
        The signal kind (``"stones_quadrant_shift"`` when called by `stones_signals`).

    Returns
    -------
    list of Signal
        Strength: Cramer's V of the theme-vs-rest table. The evidence holds the table, the theme's
        and the rest's shares, and ``drivers``: the options whose residuals drive the difference.
    """
    lab = as_labels(labels, len(values))
    names = _options_of(values, options)
    position = {o: i for i, o in enumerate(names)}
    is_multi = (
        any(not isinstance(v, str) and v is not None for v in values)
        if multiple is None
        else multiple
    )
    answered = np.array([v is not None for v in values])
    chosen = np.zeros((len(values), len(names)), dtype=bool)
    for i, v in enumerate(values):
        if v is not None:
            for o in [v] if isinstance(v, str) else v:
                if o in position:
                    chosen[i, position[o]] = True
    rng = np.random.default_rng(random_state)
    drafts: list[dict[str, Any]] = []
    idx = np.flatnonzero(answered)
    lab_ok = lab[answered]
    ch = chosen[answered]
    for t in theme_ids(lab_ok):
        inside = lab_ok == t
        k = int(inside.sum())
        if k < min_count or inside.size - k < min_count:
            continue
        theme_share = ch[inside].mean(axis=0)
        rest_share = ch[~inside].mean(axis=0)
        shares = {
            "theme": dict(zip(names, theme_share.tolist(), strict=True)),
            "rest": dict(zip(names, rest_share.tolist(), strict=True)),
        }
        if is_multi:
            for j, name in enumerate(names):
                if not ch[:, j].any() or ch[:, j].all():
                    continue
                res = contingency_test(
                    ch[:, j].astype(np.int64),
                    inside,
                    2,
                    min_expected=min_expected,
                    n_permutations=n_permutations,
                    rng=rng,
                )
                r = float(res["residuals"][0, 1])
                members = idx[inside & ch[:, j]] if r > 0 else idx[inside & ~ch[:, j]]
                drafts.append(
                    {
                        "kind": kind,
                        "themes": (t,),
                        "subject": subject,
                        "strength": res["cramers_v"],
                        "strength_name": "cramers_v",
                        "test": res["test"],
                        "p_value": res["p_value"],
                        "evidence": {
                            "option": name,
                            "theme_share": float(theme_share[j]),
                            "rest_share": float(rest_share[j]),
                            "table": res["table"],
                            "drivers": _drivers([name], np.array([r]), residual_threshold),
                            "residual": r,
                        },
                        "exemplars": {"theme": tuple(int(i) for i in members[:n_exemplars])},
                    }
                )
            continue
        single = np.where(ch.any(axis=1), ch.argmax(axis=1), -1)
        keep = single >= 0
        res = contingency_test(
            single[keep],
            inside[keep],
            len(names),
            min_expected=min_expected,
            n_permutations=n_permutations,
            rng=rng,
        )
        residuals = res["residuals"][0]
        top = int(np.argmax(residuals))
        members = idx[keep][inside[keep] & (single[keep] == top)]
        drafts.append(
            {
                "kind": kind,
                "themes": (t,),
                "subject": subject,
                "strength": res["cramers_v"],
                "strength_name": "cramers_v",
                "test": res["test"],
                "p_value": res["p_value"],
                "evidence": {
                    "options": names,
                    "shares": shares,
                    "table": res["table"],
                    "residuals": residuals,
                    "drivers": _drivers(names, residuals, residual_threshold),
                },
                "exemplars": {"theme": tuple(int(i) for i in members[:n_exemplars])},
            }
        )
    return finalise(drafts, alpha=alpha, correction=correction)


def stones_signals(
    positions: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    subject: str | None = None,
    min_count: int = 10,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
    n_exemplars: int = 3,
) -> list[Signal]:
    """Quadrant distribution of one stone per theme against the rest (see `choice_signals`).

    Parameters
    ----------
    positions : array-like of shape (n, 2)
        The stone's ``(x, y)`` in ``[0, 1]`` per narrative; ``nan`` rows = stone not placed.
    labels : array-like of int
        Theme of each narrative.
    subject : str or None
        The stone's key (e.g. ``"canvas/stone"``), copied into each signal.
    min_count, alpha, correction, n_permutations, random_state, n_exemplars
        As in `choice_signals`.

    Returns
    -------
    list of Signal
        ``stones_quadrant_shift`` signals; options are the four `QUADRANTS`.
    """
    q = quadrants(positions)
    values: list[str | Sequence[str] | None] = [QUADRANTS[i] if i >= 0 else None for i in q]
    return choice_signals(
        values,
        labels,
        subject=subject,
        options=QUADRANTS,
        multiple=False,
        min_count=min_count,
        alpha=alpha,
        correction=correction,
        n_permutations=n_permutations,
        random_state=random_state,
        n_exemplars=n_exemplars,
        kind="stones_quadrant_shift",
    )


def quadrant_shares(positions: npt.ArrayLike, labels: npt.ArrayLike) -> dict[int, ChoiceShares]:
    """Share of each theme's placed stones in each quadrant.

    Parameters
    ----------
    positions : array-like of shape (n, 2)
        The stone's ``(x, y)`` per narrative; ``nan`` rows = not placed.
    labels : array-like of int
        Theme of each narrative.

    Returns
    -------
    dict of int to ChoiceShares
        Per theme, and ``-1`` for the whole project; options are `QUADRANTS`.
    """
    q = quadrants(positions)
    values: list[str | Sequence[str] | None] = [QUADRANTS[i] if i >= 0 else None for i in q]
    return choice_shares(values, labels, QUADRANTS)
