"""Triads: compositional summaries per theme and theme-versus-rest shifts in isometric log-ratios.

A triad value is three proportions summing to 1 in the order of the declared anchors; a row of
``nan`` (or ``None``) is "not applicable" and left out.

Zeros. A point on a vertex or an edge has zero parts, for which log-ratios are undefined. Zeros are
never dropped: every composition goes through *multiplicative replacement* (Martin-Fernandez,
Barcelo-Vidal & Pawlowsky-Glahn 2003) - each part below ``delta`` is set to ``delta`` and the other
parts are scaled down by the same factor so the row still sums to 1, which keeps the ratios between
the non-zero parts. The default ``delta = 0.005`` is half a percentage point, half the resolution
at which triads are usually recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.signals._core import (
    Correction,
    FloatArray,
    Signal,
    as_labels,
    finalise,
    jsonable,
    permutation_pvalue,
    theme_ids,
)

#: Default detection limit for zero replacement (half a percentage point).
DEFAULT_DELTA = 0.005
#: SenseMaker's zones: a vertex at 60% on one anchor, an edge when one anchor is below 20%.
VERTEX_SHARE = 0.6
EDGE_SHARE = 0.2
#: The seven zones, in the order `zone_counts` reports them.
ZONES = ("vertex_0", "vertex_1", "vertex_2", "edge_12", "edge_02", "edge_01", "centre")

# Orthonormal balances: z1 contrasts anchors 0 and 1, z2 contrasts both with anchor 2.
_ILR_BASIS = np.array(
    [
        [1 / np.sqrt(2), -1 / np.sqrt(2), 0.0],
        [1 / np.sqrt(6), 1 / np.sqrt(6), -2 / np.sqrt(6)],
    ]
)


def as_triad_values(values: Sequence[Sequence[float] | None] | npt.ArrayLike) -> FloatArray:
    """Triad values as an ``(n, 3)`` float matrix, ``nan`` rows for "not applicable".

    Rows are closed to sum 1 (so percentages are accepted as well).

    Raises
    ------
    ValueError
        On a negative part, a row of the wrong length or a row summing to zero.
    """
    if isinstance(values, np.ndarray):
        raw = np.asarray(values, dtype=float)
    else:
        rows: list[list[float]] = []
        items: Any = values
        for v in items:
            rows.append([np.nan] * 3 if v is None else [float(p) for p in v])
        raw = np.asarray(rows, dtype=float).reshape(-1, 3)
    if raw.ndim != 2 or raw.shape[1] != 3:
        raise ValueError(f"triad values must have three parts; got shape {raw.shape}")
    ok = np.all(np.isfinite(raw), axis=1)
    raw = np.where(ok[:, None], raw, np.nan)
    if np.any(raw[ok] < 0):
        raise ValueError("triad parts must be non-negative")
    sums = raw[ok].sum(axis=1)
    if np.any(sums <= 0):
        raise ValueError("a triad value sums to zero")
    raw[ok] = raw[ok] / sums[:, None]
    return raw


def replace_zeros(x: npt.ArrayLike, delta: float = DEFAULT_DELTA) -> FloatArray:
    """Multiplicative replacement of parts below ``delta`` (rows closed to 1 first).

    Parameters
    ----------
    x : array-like of shape (n, D)
        Compositions (no ``nan`` rows).
    delta : float, default=0.005
        The value given to every part below it.

    Returns
    -------
    ndarray of shape (n, D)
        Strictly positive compositions summing to 1, with the ratios of the untouched parts kept.
    """
    comp = np.asarray(x, dtype=float)
    comp = comp / comp.sum(axis=1, keepdims=True)
    small = comp < delta
    n_small = small.sum(axis=1, keepdims=True)
    scale = 1.0 - n_small * delta
    kept = comp.sum(axis=1, keepdims=True, where=~small)
    out = np.where(small, delta, comp * scale / np.where(kept > 0, kept, 1.0))
    return np.asarray(out, dtype=float)


def ilr(x: npt.ArrayLike, delta: float = DEFAULT_DELTA) -> FloatArray:
    """Isometric log-ratio coordinates of 3-part compositions.

    The two orthonormal balances are ``z1 = ln(x0 / x1) / sqrt(2)`` and
    ``z2 = ln(sqrt(x0 x1) / x2) * sqrt(2/3)``; Euclidean distances between them are Aitchison
    distances between the compositions.

    Parameters
    ----------
    x : array-like of shape (n, 3)
        Compositions (no ``nan`` rows); zeros are replaced first (`replace_zeros`).
    delta : float, default=0.005
        Zero-replacement detection limit.

    Returns
    -------
    ndarray of shape (n, 2)
    """
    comp = replace_zeros(x, delta)
    return np.asarray(np.log(comp) @ _ILR_BASIS.T, dtype=float)


def ilr_inverse(z: npt.ArrayLike) -> FloatArray:
    """The compositions whose ilr coordinates are ``z``.

    Parameters
    ----------
    z : array-like of shape (n, 2) or (2,)
        ilr coordinates (see `ilr`).

    Returns
    -------
    ndarray of shape (n, 3)
        Compositions closed to 1.
    """
    coords = np.atleast_2d(np.asarray(z, dtype=float))
    e = np.exp(coords @ _ILR_BASIS)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=float)


def geometric_mean(x: npt.ArrayLike, delta: float = DEFAULT_DELTA) -> FloatArray:
    """Compositional centre: the part-wise geometric mean after zero replacement, closed to 1.

    Parameters
    ----------
    x : array-like of shape (n, 3)
        Compositions (no ``nan`` rows).
    delta : float, default=0.005
        Zero-replacement detection limit.

    Returns
    -------
    ndarray of shape (3,)
    """
    comp = replace_zeros(x, delta)
    g = np.exp(np.log(comp).mean(axis=0))
    return np.asarray(g / g.sum(), dtype=float)


def total_variance(x: npt.ArrayLike, delta: float = DEFAULT_DELTA) -> float:
    """Compositional dispersion: the total variance, trace of the ilr covariance (``ddof=1``).

    It equals the trace of the clr covariance and does not depend on the ilr basis.

    Parameters
    ----------
    x : array-like of shape (n, 3)
        Compositions (no ``nan`` rows).
    delta : float, default=0.005
        Zero-replacement detection limit.

    Returns
    -------
    float
        ``nan`` for fewer than two compositions.
    """
    z = ilr(x, delta)
    if z.shape[0] < 2:
        return float("nan")
    return float(np.trace(np.cov(z.T, ddof=1)))


def zones(x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """SenseMaker zone of each composition.

    A vertex when one anchor holds at least 60%; otherwise an edge when one anchor holds less than
    20% (the other two then lie between 20% and 60%; the edge is named by those two); otherwise the
    centre.

    Parameters
    ----------
    x : array-like of shape (n, 3)
        Compositions closed to 1 (no ``nan`` rows).

    Returns
    -------
    ndarray of int
        Index into `ZONES` per composition.
    """
    comp = np.asarray(x, dtype=float)
    out = np.full(comp.shape[0], 6, dtype=np.int64)
    top = comp.argmax(axis=1)
    low = comp.argmin(axis=1)
    vertex = comp.max(axis=1) >= VERTEX_SHARE
    edge = ~vertex & (comp.min(axis=1) < EDGE_SHARE)
    out[vertex] = top[vertex]
    out[edge] = 3 + low[edge]
    return out


def zone_shares(x: npt.ArrayLike) -> dict[str, float]:
    """Share of the compositions in each of the seven zones.

    Parameters
    ----------
    x : array-like of shape (n, 3)
        Compositions closed to 1.

    Returns
    -------
    dict of str to float
        Keyed by `ZONES`.
    """
    z = zones(x)
    counts = np.bincount(z, minlength=7).astype(float)
    total = max(1, z.size)
    return {name: float(c / total) for name, c in zip(ZONES, counts, strict=True)}


@dataclass(frozen=True)
class TriadSummary:
    """The distribution of one triad within one group of narratives.

    Attributes
    ----------
    n : int
        Narratives with a value.
    n_not_applicable : int
        Narratives that answered "not applicable".
    n_zero_parts : int
        Parts replaced because they were below the detection limit.
    geometric_mean : tuple of float
        Compositional centre (closed to 1), in anchor order.
    arithmetic_mean : tuple of float
        Plain mean of the parts, for reference.
    zones : dict of str to float
        Share in each SenseMaker zone (see `ZONES`).
    total_variance : float
        Dispersion: trace of the ilr covariance.
    """

    n: int
    n_not_applicable: int
    n_zero_parts: int
    geometric_mean: tuple[float, float, float]
    arithmetic_mean: tuple[float, float, float]
    zones: dict[str, float]
    total_variance: float

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "n": self.n,
            "n_not_applicable": self.n_not_applicable,
            "n_zero_parts": self.n_zero_parts,
            "geometric_mean": jsonable(list(self.geometric_mean)),
            "arithmetic_mean": jsonable(list(self.arithmetic_mean)),
            "zones": jsonable(self.zones),
            "total_variance": jsonable(self.total_variance),
        }


def summarise_triad(
    values: Sequence[Sequence[float] | None] | npt.ArrayLike, delta: float = DEFAULT_DELTA
) -> TriadSummary:
    """Compositional mean, zones and dispersion of one set of triad values.

    Parameters
    ----------
    values : sequence of 3-sequences or None
        Proportions (or percentages) per narrative; ``None``/``nan`` rows = not applicable.
    delta : float, default=0.005
        Zero-replacement detection limit.

    Returns
    -------
    TriadSummary
    """
    raw = as_triad_values(values)
    ok = np.all(np.isfinite(raw), axis=1)
    x = raw[ok]
    nan3 = (float("nan"), float("nan"), float("nan"))
    if x.shape[0] == 0:
        return TriadSummary(0, int(raw.shape[0]), 0, nan3, nan3, zone_shares(x), float("nan"))
    g = geometric_mean(x, delta)
    m = x.mean(axis=0)
    return TriadSummary(
        n=int(x.shape[0]),
        n_not_applicable=int(raw.shape[0] - x.shape[0]),
        n_zero_parts=int(np.count_nonzero(x < delta)),
        geometric_mean=(float(g[0]), float(g[1]), float(g[2])),
        arithmetic_mean=(float(m[0]), float(m[1]), float(m[2])),
        zones=zone_shares(x),
        total_variance=total_variance(x, delta),
    )


def triad_summaries(
    values: Sequence[Sequence[float] | None] | npt.ArrayLike,
    labels: npt.ArrayLike,
    delta: float = DEFAULT_DELTA,
) -> dict[int, TriadSummary]:
    """`TriadSummary` per theme (key ``-1`` holds the whole project).

    Parameters
    ----------
    values : sequence of 3-sequences or None
        One triad value per narrative.
    labels : array-like of int
        Theme of each narrative (``-1`` = unclustered).
    delta : float, default=0.005
        Zero-replacement detection limit.

    Returns
    -------
    dict of int to TriadSummary
    """
    raw = as_triad_values(values)
    lab = as_labels(labels, raw.shape[0])
    out = {-1: summarise_triad(raw, delta)}
    for t in theme_ids(lab):
        out[t] = summarise_triad(raw[lab == t], delta)
    return out


def mean_shift_null(
    z: FloatArray, inside: npt.NDArray[np.bool_], n_permutations: int, rng: np.random.Generator
) -> tuple[float, FloatArray]:
    """Squared distance between the mean of ``z[inside]`` and of the rest, observed and permuted."""
    n = z.shape[0]
    k = int(inside.sum())

    def stat(member: npt.NDArray[np.float64]) -> FloatArray:
        mean_in = member @ z / k
        mean_out = (1.0 - member) @ z / (n - k)
        return np.asarray(((mean_in - mean_out) ** 2).sum(axis=-1), dtype=float)

    observed = float(stat(inside.astype(float)[None, :])[0])
    perms = np.argsort(rng.random((n_permutations, n)), axis=1) < k
    return observed, stat(perms.astype(float))


def triad_signals(
    values: Sequence[Sequence[float] | None] | npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    subject: str | None = None,
    anchors: Sequence[str] | None = None,
    min_count: int = 20,
    delta: float = DEFAULT_DELTA,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
    n_exemplars: int = 3,
) -> list[Signal]:
    """Theme-versus-rest shift of one triad, for every theme with enough answers.

    The statistic is the squared Euclidean distance between the theme's and the rest's mean ilr
    coordinates (the squared Aitchison distance between their geometric means); its p-value comes
    from ``n_permutations`` random reassignments of theme membership among the answered
    narratives. p-values are corrected over every theme tested in the call.

    Parameters
    ----------
    values : sequence of 3-sequences or None
        One triad value per narrative (proportions or percentages); ``None``/``nan`` = not
        applicable (left out). Zeros are replaced (see the module notes), never dropped.
    labels : array-like of int
        Theme of each narrative; ``-1`` only counts as "rest".
    subject : str or None
        The triad's key, copied into each signal.
    anchors : sequence of 3 str or None
        Anchor labels, copied into the evidence.
    min_count : int, default=20
        Least number of answered values the theme and the rest need to be tested.
    delta : float, default=0.005
        Zero-replacement detection limit.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over the themes tested in the call.
    n_permutations : int, default=999
        Permutations of the test.
    random_state : int or None, default=0
        Seed of the permutations.
    n_exemplars : int, default=3
        Exemplars: the theme's narratives furthest along the shift.

    Returns
    -------
    list of Signal
        One ``triad_shift`` per tested theme. Strength: the Aitchison distance between the theme's
        and the rest's geometric means. The evidence holds both summaries and, per anchor, the
        ratio of the theme's geometric-mean share to the rest's.
    """
    raw = as_triad_values(values)
    lab = as_labels(labels, raw.shape[0])
    ok = np.all(np.isfinite(raw), axis=1)
    x, lab_ok, idx = raw[ok], lab[ok], np.flatnonzero(ok)
    z = ilr(x, delta) if x.shape[0] else np.zeros((0, 2))
    rng = np.random.default_rng(random_state)
    project = summarise_triad(x, delta).to_json()
    drafts: list[dict[str, Any]] = []
    for t in theme_ids(lab_ok):
        inside = lab_ok == t
        k = int(inside.sum())
        if k < min_count or x.shape[0] - k < min_count:
            continue
        observed, null = mean_shift_null(z, inside, n_permutations, rng)
        g_in = geometric_mean(x[inside], delta)
        g_out = geometric_mean(x[~inside], delta)
        shift = z[inside].mean(axis=0) - z[~inside].mean(axis=0)
        along = (z[inside] - z[~inside].mean(axis=0)) @ shift
        order = np.argsort(-along, kind="stable")[:n_exemplars]
        drafts.append(
            {
                "kind": "triad_shift",
                "themes": (t,),
                "subject": subject,
                "strength": float(np.sqrt(observed)),
                "strength_name": "aitchison_distance",
                "test": "permutation_ilr_mean_distance",
                "p_value": permutation_pvalue(observed, null),
                "evidence": {
                    "anchors": list(anchors) if anchors else None,
                    "theme": summarise_triad(x[inside], delta).to_json(),
                    "rest": summarise_triad(x[~inside], delta).to_json(),
                    "project": project,
                    "share_ratio": (g_in / g_out).tolist(),
                    "ilr_shift": shift.tolist(),
                    "n_permutations": n_permutations,
                    "zero_replacement": {"method": "multiplicative", "delta": delta},
                },
                "exemplars": {"theme": tuple(int(i) for i in idx[inside][order])},
            }
        )
    return finalise(drafts, alpha=alpha, correction=correction)
