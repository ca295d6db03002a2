"""Dyads: five-band profiles per theme, polarisation with a bimodality test, theme-vs-rest shifts.

A dyad value is a position in ``[0, 1]`` between a left pole (0) and a right pole (1); ``None`` or
``nan`` means "not applicable" and is left out of every statistic (never read as 0).

SenseMaker's five bands are ``[0, .2)``, ``[.2, .4)``, ``[.4, .6)``, ``[.6, .8)``, ``[.8, 1]``; the
outer bands are the poles and the central band the middle.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    jsonable,
    theme_ids,
)

#: Upper edges of the first four of SenseMaker's five dyad bands.
BAND_EDGES = (0.2, 0.4, 0.6, 0.8)
BAND_NAMES = ("left", "left_middle", "middle", "right_middle", "right")


def as_dyad_values(values: Sequence[float | None] | npt.ArrayLike) -> FloatArray:
    """Dyad values as a float vector with ``nan`` for "not applicable" (``None``).

    Raises
    ------
    ValueError
        When a value lies outside ``[0, 1]``.
    """
    raw = np.asarray(
        [np.nan if v is None else v for v in values]  # type: ignore[union-attr]
        if not isinstance(values, np.ndarray)
        else values,
        dtype=float,
    )
    if raw.ndim != 1:
        raise ValueError(f"dyad values must be a vector; got shape {raw.shape}")
    ok = raw[np.isfinite(raw)]
    if ok.size and (ok.min() < 0.0 or ok.max() > 1.0):
        raise ValueError("dyad values must lie in [0, 1] (None for not applicable)")
    return raw


def band_shares(x: FloatArray) -> FloatArray:
    """Share of the values in each of the five bands.

    Parameters
    ----------
    x : ndarray of float
        Values in ``[0, 1]`` without ``nan``.

    Returns
    -------
    ndarray of shape (5,)
        Shares left to right (`BAND_NAMES`); ``nan`` for an empty input.
    """
    if x.size == 0:
        return np.full(5, np.nan)
    idx = np.searchsorted(np.asarray(BAND_EDGES), x, side="right")
    return np.bincount(idx, minlength=5).astype(float) / x.size


def bimodality_coefficient(x: FloatArray) -> float:
    """Sarle's bimodality coefficient, with sample-size adjusted skewness and kurtosis.

    Parameters
    ----------
    x : ndarray of float
        The sample (no ``nan``).

    Returns
    -------
    float
        ``(G1^2 + 1) / (G2 + 3 (n-1)^2 / ((n-2)(n-3)))``; above 5/9 suggests two modes. ``nan`` for
        fewer than four values or a constant sample.
    """
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return float("nan")
    d = x - x.mean()
    m2, m3, m4 = float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))
    # sample-size adjusted skewness G1 and excess kurtosis G2 (as in scipy with bias=False)
    g = np.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    k = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * (m4 / m2**2 - 3.0) + 6.0)
    return float((g * g + 1.0) / (k + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


@dataclass(frozen=True)
class DyadSummary:
    """The distribution of one dyad within one group of narratives.

    Attributes
    ----------
    n : int
        Narratives with a value.
    n_not_applicable : int
        Narratives that answered "not applicable".
    mean, median, sd : float
        Location and spread of the values.
    bands : tuple of float
        Share in each of the five bands, left to right (see `BAND_NAMES`).
    left_share, right_share : float
        Share at each pole (the outer bands).
    middle_share : float
        Share in the central band.
    bimodality_coefficient : float
        Sarle's coefficient; above 5/9 suggests two modes.
    """

    n: int
    n_not_applicable: int
    mean: float
    median: float
    sd: float
    bands: tuple[float, ...]
    left_share: float
    right_share: float
    middle_share: float
    bimodality_coefficient: float

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "n": self.n,
            "n_not_applicable": self.n_not_applicable,
            "mean": jsonable(self.mean),
            "median": jsonable(self.median),
            "sd": jsonable(self.sd),
            "bands": dict(zip(BAND_NAMES, jsonable(list(self.bands)), strict=True)),
            "left_share": jsonable(self.left_share),
            "right_share": jsonable(self.right_share),
            "middle_share": jsonable(self.middle_share),
            "bimodality_coefficient": jsonable(self.bimodality_coefficient),
        }


def summarise_dyad(values: Sequence[float | None] | npt.ArrayLike) -> DyadSummary:
    """Five-band profile, mean, pole shares and bimodality coefficient of one set of values.

    Parameters
    ----------
    values : sequence of float or None
        Dyad positions in ``[0, 1]``; ``None``/``nan`` = not applicable.

    Returns
    -------
    DyadSummary
    """
    raw = as_dyad_values(values)
    x = raw[np.isfinite(raw)]
    bands = band_shares(x)
    empty = x.size == 0
    return DyadSummary(
        n=int(x.size),
        n_not_applicable=int(raw.size - x.size),
        mean=float("nan") if empty else float(x.mean()),
        median=float("nan") if empty else float(np.median(x)),
        sd=float(x.std(ddof=1)) if x.size > 1 else float("nan"),
        bands=tuple(float(b) for b in bands),
        left_share=float(bands[0]),
        right_share=float(bands[4]),
        middle_share=float(bands[2]),
        bimodality_coefficient=bimodality_coefficient(x),
    )


def dyad_summaries(
    values: Sequence[float | None] | npt.ArrayLike, labels: npt.ArrayLike
) -> dict[int, DyadSummary]:
    """`DyadSummary` per theme (key ``-1`` holds the whole project, unclustered included).

    Parameters
    ----------
    values : sequence of float or None
        One dyad value per narrative.
    labels : array-like of int
        Theme of each narrative (``-1`` = unclustered).

    Returns
    -------
    dict of int to DyadSummary
    """
    raw = as_dyad_values(values)
    lab = as_labels(labels, raw.size)
    out = {-1: summarise_dyad(raw)}
    for t in theme_ids(lab):
        out[t] = summarise_dyad(raw[lab == t])
    return out


# --- the band test for polarisation ---------------------------------------------------------


def polarisation_test(x: npt.ArrayLike) -> tuple[float, float]:
    """Test that both pole bands hold more narratives than the middle band.

    For any unimodal density on ``[0, 1]`` the middle band ``[.4, .6)`` holds at least as much
    mass as the weaker of the two pole bands (the density falls away from its mode, so one pole
    band lies on the falling side of the middle band, or the mode lies inside the middle band).
    Hence ``H0: min(p_left, p_right) <= p_middle`` contains every unimodal distribution, and
    rejecting it is evidence of two modes at the poles with a thin middle. The test is an
    intersection-union test: two exact one-sided binomial (sign) tests, left-vs-middle and
    right-vs-middle counts, each at level ``alpha``; its p-value is the larger of the two. It
    holds its level for every distribution in ``H0``.

    Parameters
    ----------
    x : array-like of float
        Values in ``[0, 1]`` (no ``nan``).

    Returns
    -------
    (index, p_value) : tuple of float
        ``index = min(p_left, p_right) - p_middle`` (positive when polarised) and the p-value
        (``nan`` for an empty sample).
    """
    data = np.asarray(x, dtype=float)
    if data.size == 0:
        return float("nan"), float("nan")
    counts = np.bincount(np.searchsorted(np.asarray(BAND_EDGES), data, side="right"), minlength=5)
    left, middle, right = int(counts[0]), int(counts[2]), int(counts[4])
    p_values = []
    for pole in (left, right):
        trials = pole + middle
        # exact one-sided binomial p-value P(X >= pole | trials, 1/2)
        p_values.append(1.0 if trials == 0 else float(stats.binom.sf(pole - 1, trials, 0.5)))
    index = (min(left, right) - middle) / data.size
    return float(index), max(p_values)


# --- signals ---------------------------------------------------------------------------------


def _pole_exemplars(x: FloatArray, idx: IntArray, k: int) -> dict[str, tuple[int, ...]]:
    order = np.argsort(x, kind="stable")
    left = [int(idx[i]) for i in order[:k] if x[i] < 0.5]
    right = [int(idx[i]) for i in order[::-1][:k] if x[i] > 0.5]
    return {"left": tuple(left), "right": tuple(right)}


def dyad_drafts(
    values: FloatArray,
    labels: IntArray,
    *,
    subject: str | None,
    poles: tuple[str, str] | None,
    min_count: int,
    min_pole_share: float,
    n_exemplars: int,
    polarised_kind: str = "dyad_polarised",
    shift_kind: str = "dyad_shift",
) -> list[dict[str, Any]]:
    """Uncorrected signal drafts for one dyad-like variable (shared with declared polarities).

    Parameters are those of `dyad_signals` (``values`` already a float vector with ``nan`` for not
    applicable, ``labels`` validated), plus the two signal kinds to emit. Returns one dict per
    draft signal, for `pipelines.signals._core.finalise`.
    """
    drafts: list[dict[str, Any]] = []
    ok = np.isfinite(values)
    project = summarise_dyad(values)
    for t in theme_ids(labels[ok]):
        inside = ok & (labels == t)
        rest = ok & (labels != t)
        idx = np.flatnonzero(inside)
        x, y = values[inside], values[rest]
        if x.size < min_count:
            continue
        summary = summarise_dyad(x)
        index, p_bimodal = polarisation_test(x)
        weaker_pole = min(summary.left_share, summary.right_share)
        gate = weaker_pole >= min_pole_share and summary.middle_share < weaker_pole
        base = {
            "summary": summary.to_json(),
            "project": project.to_json(),
            "poles": list(poles) if poles else None,
        }
        drafts.append(
            {
                "kind": polarised_kind,
                "themes": (t,),
                "subject": subject,
                "strength": weaker_pole,
                "strength_name": "weaker_pole_share",
                "test": "pole_vs_middle_band_sign_tests",
                "p_value": p_bimodal,
                "gate": gate,
                "evidence": {**base, "polarisation_index": index, "min_pole_share": min_pole_share},
                "exemplars": _pole_exemplars(x, idx, n_exemplars),
            }
        )
        if y.size >= min_count:
            ks = stats.ks_2samp(x, y)
            diff = float(x.mean() - y.mean())
            order = np.argsort(x if diff < 0 else -x, kind="stable")[:n_exemplars]
            drafts.append(
                {
                    "kind": shift_kind,
                    "themes": (t,),
                    "subject": subject,
                    "strength": float(ks.statistic),
                    "strength_name": "ks_distance",
                    "test": "kolmogorov_smirnov_two_sample",
                    "p_value": float(ks.pvalue),
                    "evidence": {
                        **base,
                        "rest": summarise_dyad(y).to_json(),
                        "mean_difference": diff,
                        "direction": "left" if diff < 0 else "right",
                    },
                    "exemplars": {"theme": tuple(int(i) for i in idx[order])},
                }
            )
    return drafts


def dyad_signals(
    values: Sequence[float | None] | npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    subject: str | None = None,
    poles: tuple[str, str] | None = None,
    min_count: int = 20,
    min_pole_share: float = 0.2,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_exemplars: int = 3,
) -> list[Signal]:
    """Polarisation and theme-versus-rest shift of one dyad, for every theme with enough answers.

    Two tests per theme, corrected together for every test run in the call:

    * ``dyad_polarised`` - `polarisation_test` (both pole bands fuller than the middle band; a
      valid test against every unimodal distribution). Flagged when the corrected p-value is at
      most ``alpha`` *and* each pole band holds at least ``min_pole_share``. Strength: the weaker
      pole's share; the evidence adds the polarisation index and Sarle's coefficient.
    * ``dyad_shift`` - two-sample Kolmogorov-Smirnov test of the theme's values against the rest of
      the project. Strength: the KS distance (largest gap between the two cumulative shares).

    Parameters
    ----------
    values : sequence of float or None
        One dyad value per narrative in ``[0, 1]``; ``None``/``nan`` = not applicable (left out).
    labels : array-like of int
        Theme of each narrative; ``-1`` (unclustered) only counts as "rest".
    subject : str or None
        The dyad's key, copied into each signal.
    poles : (str, str) or None
        Left and right pole labels, copied into the evidence.
    min_count : int, default=20
        Least number of answered values a theme (and the rest) needs to be tested.
    min_pole_share : float, default=0.2
        Least share each pole must hold for a theme to be called polarised.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over every test of the call.
    n_exemplars : int, default=3
        Exemplars kept per side.

    Returns
    -------
    list of Signal
        One ``dyad_polarised`` per tested theme and one ``dyad_shift`` where the rest is large
        enough; ``flagged`` tells which pass.
    """
    raw = as_dyad_values(values)
    lab = as_labels(labels, raw.size)
    drafts = dyad_drafts(
        raw,
        lab,
        subject=subject,
        poles=poles,
        min_count=min_count,
        min_pole_share=min_pole_share,
        n_exemplars=n_exemplars,
    )
    return finalise(drafts, alpha=alpha, correction=correction)
