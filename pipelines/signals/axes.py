"""Declared polarities: a position for every narrative on an axis between two pole descriptions.

A project may declare an axis as two short pole descriptions (e.g. "follow the plan" and "work
with emergence"). Each narrative's raw position is its cosine similarity to the right pole minus
that to the left pole. Raw similarities are not comparable across axes or models, so positions are
reported on the project's own scale: the mid-rank of the raw position among all the project's
narratives, in ``(0, 1)``. On that scale the dyad machinery applies unchanged: the five bands are
project quintiles, and a theme is polarised along the axis when both its outer quintiles are fuller
than its middle one (`pipelines.signals.dyads.polarisation_test`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from pipelines.signals._core import Correction, FloatArray, Signal, as_labels, finalise
from pipelines.signals.dyads import dyad_drafts


def axis_positions(
    embeddings: npt.ArrayLike, left: npt.ArrayLike, right: npt.ArrayLike
) -> FloatArray:
    """Raw position of each narrative: similarity to the right pole minus similarity to the left.

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        Unit-length narrative embeddings.
    left, right : array-like of shape (d,) or (k, d)
        Unit-length embeddings of the pole descriptions (several rows are averaged).

    Returns
    -------
    ndarray of shape (n,)
    """
    X = np.asarray(embeddings, dtype=float)
    lo = np.atleast_2d(np.asarray(left, dtype=float))
    hi = np.atleast_2d(np.asarray(right, dtype=float))
    return np.asarray((X @ hi.T).mean(axis=1) - (X @ lo.T).mean(axis=1), dtype=float)


def project_scale(raw: npt.ArrayLike) -> FloatArray:
    """Positions on the project's own scale: mid-rank divided by the count, in ``(0, 1)``.

    Parameters
    ----------
    raw : array-like of float
        Raw positions of all the project's narratives; ``nan`` = no position.

    Returns
    -------
    ndarray of float
        Scaled positions, ``nan`` where the input is ``nan``.
    """
    r = np.asarray(raw, dtype=float)
    out = np.full(r.shape, np.nan)
    ok = np.isfinite(r)
    if ok.any():
        out[ok] = (rankdata(r[ok]) - 0.5) / ok.sum()
    return out


def axis_signals(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    left: npt.ArrayLike,
    right: npt.ArrayLike,
    *,
    subject: str | None = None,
    poles: tuple[str, str] | None = None,
    min_count: int = 20,
    min_pole_share: float = 0.2,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_exemplars: int = 3,
) -> list[Signal]:
    """Themes polarised along (or shifted along) a declared axis.

    Parameters
    ----------
    embeddings : array-like of shape (n, d)
        Narrative embeddings.
    labels : array-like of int
        Theme of each narrative.
    left, right : array-like
        Embeddings of the left and right pole descriptions (same model).
    subject : str or None
        The axis key, copied into each signal.
    poles : (str, str) or None
        The pole descriptions, copied into the evidence.
    min_count : int, default=20
        Least number of narratives a theme (and the rest) needs to be tested.
    min_pole_share : float, default=0.2
        Least share of a polarised theme in each outer project quintile.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over every test of the call.
    n_exemplars : int, default=3
        Exemplars per pole.

    Returns
    -------
    list of Signal
        ``axis_polarised`` and ``axis_shift`` signals, as `pipelines.signals.dyads.dyad_signals`
        computes them on the project-scaled positions; the evidence's summaries are on that scale.
    """
    positions = project_scale(axis_positions(embeddings, left, right))
    lab = as_labels(labels, positions.size)
    drafts = dyad_drafts(
        positions,
        lab,
        subject=subject,
        poles=poles,
        min_count=min_count,
        min_pole_share=min_pole_share,
        n_exemplars=n_exemplars,
        polarised_kind="axis_polarised",
        shift_kind="axis_shift",
    )
    return finalise(drafts, alpha=alpha, correction=correction)
