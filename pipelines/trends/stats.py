"""Small, vectorised building blocks: Wilson intervals, BH q-values, trend and 2x2 tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.special import gammaln

from pipelines.trends.errors import TrendInputError, TrendSettingError

FloatArray = npt.NDArray[np.float64]


def normal_quantile(confidence: float) -> float:
    """The two-sided normal critical value for ``confidence``.

    Parameters
    ----------
    confidence : float
        Coverage in (0, 1).

    Returns
    -------
    float
        ``z`` with ``P(|Z| <= z) = confidence`` (1.96 for 0.95).
    """
    if not 0.0 < confidence < 1.0:
        raise TrendSettingError(f"confidence must be in (0, 1), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def two_sided_p(z: npt.ArrayLike) -> FloatArray:
    """Two-sided normal p-values of z-scores.

    Parameters
    ----------
    z : array-like of float
        Standard normal scores under the null.

    Returns
    -------
    ndarray of float64
        ``2 * P(Z > |z|)``; NaN stays NaN.
    """
    return np.asarray(2.0 * stats.norm.sf(np.abs(np.asarray(z, dtype=np.float64))), np.float64)


def wilson_interval(
    count: npt.ArrayLike, total: npt.ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a binomial proportion, elementwise.

    Unlike the Wald interval it stays inside ``[0, 1]``, is not empty at 0 or ``total``
    successes, and keeps close to its nominal coverage for small totals.

    Parameters
    ----------
    count : array-like of int
        Successes (narratives of the theme in the cell).
    total : array-like of int
        Trials (narratives in the cell); broadcast against ``count``.
    confidence : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    low, high : ndarray of float64
        Bounds, NaN where ``total`` is 0.

    Examples
    --------
    >>> low, high = wilson_interval(0, 10)
    >>> float(low), round(float(high), 4)
    (0.0, 0.2775)
    """
    z = normal_quantile(confidence)
    k, n = np.broadcast_arrays(
        np.asarray(count, dtype=np.float64), np.asarray(total, dtype=np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    empty = n <= 0
    low = np.where(empty, np.nan, np.clip(centre - half, 0.0, 1.0))
    high = np.where(empty, np.nan, np.clip(centre + half, 0.0, 1.0))
    # Exact at the ends: rounding must not move the bound off 0 or 1.
    low = np.where(k == 0, np.where(empty, np.nan, 0.0), low)
    high = np.where((k == n) & ~empty, 1.0, high)
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def benjamini_hochberg(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values), any shape, NaN ignored.

    A test is a discovery at false-discovery rate ``alpha`` when its q-value is at most
    ``alpha``. NaN entries (tests not run) are not counted among the tests and stay NaN.
    Valid for independent and positively dependent tests (Benjamini & Yekutieli 2001),
    which covers one theme tested in several groups or in two ways.

    Parameters
    ----------
    p_values : array-like of float
        p-values of any shape; NaN for a test not run.

    Returns
    -------
    ndarray of float64
        q-values, same shape.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, np.nan]).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    flat = p.ravel()
    tested = np.flatnonzero(~np.isnan(flat))
    m = tested.size
    if m == 0:
        return q
    order = tested[np.argsort(flat[tested], kind="stable")]
    ranked = flat[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = q.ravel()
    out[order] = np.minimum(ranked, 1.0)
    return out.reshape(p.shape)


@dataclass(frozen=True, eq=False)
class TrendTest:
    """Cochran-Armitage test results, one entry per theme.

    Attributes
    ----------
    z : ndarray, shape (n_themes,)
        Standardised trend statistic; positive when the share rises with the score.
        NaN when the test is undefined (no variation in the theme or the scores).
    p_value : ndarray, shape (n_themes,)
        Two-sided normal p-value (NaN where ``z`` is).
    slope : ndarray, shape (n_themes,)
        Least-squares change in share per unit of score, weighted by cell totals.
    """

    z: FloatArray
    p_value: FloatArray
    slope: FloatArray


def cochran_armitage(
    counts: npt.ArrayLike, totals: npt.ArrayLike, scores: npt.ArrayLike | None = None
) -> TrendTest:
    """Cochran-Armitage test for a linear trend in a proportion over ordered cells.

    The statistic is ``U = sum_t (s_t - s_bar) y_t`` with ``s_bar`` the total-weighted mean
    score. Its variance is taken under the permutation null (narratives' cells shuffled,
    margins fixed), ``p(1-p) N/(N-1) sum_t n_t (s_t - s_bar)^2``, so ``z**2`` equals the
    linear-by-linear association statistic ``M**2 = (N-1) r**2`` (Agresti 2002, §3.4.6)
    and the test is calibrated against shuffled dates.

    Parameters
    ----------
    counts : array-like of int, shape (n_themes, n_cells) or (n_cells,)
        Narratives of each theme per ordered cell.
    totals : array-like of int, shape (n_cells,)
        Narratives per cell; empty cells carry no weight.
    scores : array-like of float, shape (n_cells,), optional
        Position of each cell; ``0, 1, 2, …`` by default (equally spaced periods).

    Returns
    -------
    TrendTest
    """
    y = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n = np.asarray(totals, dtype=np.float64)
    s = np.arange(n.size, dtype=np.float64) if scores is None else np.asarray(scores, np.float64)
    if y.shape[1] != n.size or s.size != n.size:
        raise TrendInputError("counts, totals and scores must have one entry per cell")
    big_n = n.sum()
    if big_n <= 1:
        nan = np.full(y.shape[0], np.nan)
        return TrendTest(z=nan, p_value=nan.copy(), slope=nan.copy())
    s_bar = float((n * s).sum() / big_n)
    centred = s - s_bar
    sxx = float((n * centred * centred).sum())
    u = y @ centred
    p = y.sum(axis=1) / big_n
    variance = p * (1.0 - p) * big_n / (big_n - 1.0) * sxx
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, u / np.sqrt(variance), np.nan)
        slope = np.full(y.shape[0], np.nan) if sxx <= 0 else u / sxx
    return TrendTest(z=z, p_value=two_sided_p(z), slope=np.asarray(slope, np.float64))


#: Tables of one Fisher call's block (themes x possible tables), bounding its memory.
_FISHER_BLOCK = 1 << 20


def fisher_exact_two_sided(
    count_a: npt.ArrayLike, total_a: npt.ArrayLike, count_b: npt.ArrayLike, total_b: npt.ArrayLike
) -> FloatArray:
    """Two-sided Fisher exact p-values of ``count_a / total_a`` against ``count_b / total_b``.

    Elementwise over broadcast arrays. The p-value sums the hypergeometric probabilities
    (margins fixed) of every table no more likely than the one observed, as
    ``scipy.stats.fisher_exact`` does, but from log-gamma terms so that a few hundred
    themes cost milliseconds. Conservative for discrete data, so it never over-states a
    difference from a small latest session.

    Parameters
    ----------
    count_a, total_a : array-like of int
        Narratives of the theme, and narratives, in the first sample (the latest period).
    count_b, total_b : array-like of int
        The same in the second sample (the baseline).

    Returns
    -------
    ndarray of float64
        p-values; 1 where either total is 0.
    """
    a, n_a, c, n_b = (
        np.asarray(v, dtype=np.int64).ravel()
        for v in np.broadcast_arrays(count_a, total_a, count_b, total_b)
    )
    shape = np.broadcast_shapes(*(np.shape(v) for v in (count_a, total_a, count_b, total_b)))
    p = np.ones(a.size)
    rows = np.flatnonzero((n_a > 0) & (n_b > 0))
    if rows.size == 0:
        return p.reshape(shape)
    a, n_a, c, n_b = a[rows], n_a[rows], c[rows], n_b[rows]
    m = a + c  # narratives of the theme in both samples
    big_n = n_a + n_b
    # log k! for every k a table can hold: one log-gamma call for all the themes
    log_fact = gammaln(np.arange(1, int(big_n.max()) + 2, dtype=np.float64))
    fixed = log_fact[m] + log_fact[big_n - m] - log_fact[big_n] + log_fact[n_a] + log_fact[n_b]
    lo = np.maximum(0, m - n_b)
    width = np.minimum(n_a, m) - lo + 1  # the tables with these margins
    # themes a block at a time, each block's tables side by side (padding masked out)
    block = max(1, _FISHER_BLOCK // int(width.max()))
    for start in range(0, rows.size, block):
        part = slice(start, start + block)
        steps = np.arange(int(width[part].max()))
        valid = steps[None, :] < width[part, None]
        k = lo[part, None] + np.where(valid, steps[None, :], 0)
        mm, na = m[part, None], n_a[part, None]
        log_pmf = (
            fixed[part, None]
            - log_fact[k]
            - log_fact[mm - k]
            - log_fact[na - k]
            - log_fact[big_n[part, None] - mm - na + k]
        )
        observed = np.take_along_axis(log_pmf, (a[part] - lo[part])[:, None], axis=1)
        # The relative tolerance keeps tables as likely as the observed one, up to rounding.
        kept = valid & (log_pmf <= observed + 1e-7)
        p[rows[part]] = np.minimum(1.0, np.where(kept, np.exp(log_pmf), 0.0).sum(axis=1))
    return p.reshape(shape)
