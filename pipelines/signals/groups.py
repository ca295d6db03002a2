"""Divergence across groups (organisation, role, site, session) within themes; consensus themes.

For a scalar variable (sentiment, a dyad, an axis position) the groups inside a theme are compared
with the Kruskal-Wallis test; the effect size is ``epsilon^2 = (H - k + 1) / (n - k)`` (the share of
rank variance between groups, 0 when the groups are alike). For a triad the statistic is the
between-group sum of squares of the ilr coordinates (a one-way PERMANOVA on Aitchison distances),
tested by permuting the group labels inside the theme; the effect size is ``R^2``, the share of the
total ilr variance between groups.

A theme is a *consensus* theme for a variable when every group of the project is present in it
(with at least ``min_group_count`` answers), the divergence test is not significant after
correction, and the effect size is below ``max_consensus_effect``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from pipelines.signals._core import (
    Correction,
    FloatArray,
    Signal,
    as_labels,
    finalise,
    permutation_pvalue,
    theme_ids,
)
from pipelines.signals.triads import DEFAULT_DELTA, as_triad_values, geometric_mean, ilr


def _between_ss(z: FloatArray, codes: npt.NDArray[np.int64], n_groups: int) -> FloatArray:
    """Between-group sum of squares for each row of ``codes`` (shape ``(B, n)``)."""
    total_mean = z.mean(axis=0)
    ss = np.zeros(codes.shape[0])
    for g in range(n_groups):
        member = (codes == g).astype(float)
        size = member.sum(axis=1)
        sums = member @ z
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = sums / size[:, None] - total_mean
        ss += np.where(size > 0, size * (gap**2).sum(axis=1), 0.0)
    return ss


def group_divergence_signals(
    values: npt.ArrayLike | Sequence[Any],
    labels: npt.ArrayLike,
    groups: Sequence[str | None],
    *,
    variable: Literal["scalar", "triad"] = "scalar",
    subject: str | None = None,
    attribute: str | None = None,
    min_group_count: int = 5,
    max_consensus_effect: float = 0.02,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_permutations: int = 999,
    random_state: int | None = 0,
    delta: float = DEFAULT_DELTA,
    n_exemplars: int = 3,
) -> list[Signal]:
    """Themes whose distribution of a variable differs between groups, and consensus themes.

    Parameters
    ----------
    values : array-like
        One value per narrative: floats for ``variable="scalar"`` (``nan`` = not applicable), or
        3-part compositions for ``variable="triad"`` (``None``/``nan`` rows = not applicable).
    labels : array-like of int
        Theme of each narrative.
    groups : sequence of str or None
        Group of each narrative for one attribute (``None`` = unknown, left out).
    variable : {"scalar", "triad"}, default="scalar"
        The kind of variable.
    subject : str or None
        The variable's key (``"sentiment"``, a dyad or triad key), copied into each signal.
    attribute : str or None
        The attribute the groups come from (``"organisation"``...), copied into the evidence.
    min_group_count : int, default=5
        Least answers a group needs inside a theme to take part; a theme needs two such groups.
    max_consensus_effect : float, default=0.02
        Largest effect size a consensus theme may show.
    alpha : float, default=0.05
        Level at which corrected p-values flag a divergence.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over the themes tested.
    n_permutations : int, default=999
        Permutations of the triad test.
    random_state : int or None, default=0
        Seed of the permutations.
    delta : float, default=0.005
        Zero-replacement detection limit for triads.
    n_exemplars : int, default=3
        Exemplars from each of the two most different groups.

    Returns
    -------
    list of Signal
        One ``group_divergence`` per tested theme (strength: epsilon^2 or R^2; evidence: per-group
        counts and centres) followed by one ``group_consensus`` per tested theme (descriptive, no
        test of its own: ``flagged`` when every project group is present, the divergence is not
        flagged and its effect is below ``max_consensus_effect``).
    """
    lab = as_labels(labels, len(groups))
    if variable == "triad":
        comp = as_triad_values(values)
        ok = np.all(np.isfinite(comp), axis=1)
    else:
        scalar = np.asarray(values, dtype=float)
        ok = np.isfinite(scalar)
    known = np.array([g is not None for g in groups]) & ok
    all_groups = sorted({str(g) for g, k in zip(groups, known, strict=True) if k})
    rng = np.random.default_rng(random_state)
    drafts: list[dict[str, Any]] = []
    for t in theme_ids(lab[known]):
        idx = np.flatnonzero(known & (lab == t))
        names = [str(groups[int(i)]) for i in idx]
        counts = {g: names.count(g) for g in all_groups}
        kept = [g for g in all_groups if counts[g] >= min_group_count]
        if len(kept) < 2:
            continue
        use = np.array([n in kept for n in names])
        idx = idx[use]
        codes = np.array([kept.index(str(groups[int(i)])) for i in idx], dtype=np.int64)
        if variable == "triad":
            z = ilr(comp[idx], delta)
            observed = float(_between_ss(z, codes[None, :], len(kept))[0])
            total = float(((z - z.mean(axis=0)) ** 2).sum())
            shuffled = codes[np.argsort(rng.random((n_permutations, codes.size)), axis=1)]
            null = _between_ss(z, shuffled, len(kept))
            p = permutation_pvalue(observed, null)
            effect = observed / total if total > 0 else 0.0
            centres = {
                g: geometric_mean(comp[idx][codes == j], delta).tolist() for j, g in enumerate(kept)
            }
            group_means = np.array([z[codes == j].mean(axis=0) for j in range(len(kept))])
            gaps = ((group_means[:, None, :] - group_means[None, :, :]) ** 2).sum(axis=2)
            first, second = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
            centre_score = z @ (group_means[first] - group_means[second])
            test, effect_name = "permanova_ilr", "r_squared"
        else:
            x = scalar[idx]
            samples = [x[codes == j] for j in range(len(kept))]
            if np.ptp(x) == 0:
                h, p = 0.0, 1.0
            else:
                res = stats.kruskal(*samples)
                h, p = float(res.statistic), float(res.pvalue)
            k, n = len(kept), x.size
            effect = max(0.0, (h - k + 1) / (n - k)) if n > k else 0.0
            centres = {g: float(np.median(s)) for g, s in zip(kept, samples, strict=True)}
            centre_score = x
            test, effect_name = "kruskal_wallis", "epsilon_squared"
        means = np.array([centre_score[codes == j].mean() for j in range(len(kept))])
        hi, lo = int(np.argmax(means)), int(np.argmin(means))
        ex = {}
        for j in (hi, lo):
            members = idx[codes == j]
            order = np.argsort(np.abs(centre_score[codes == j] - means[j]), kind="stable")
            ex[kept[j]] = tuple(int(members[i]) for i in order[:n_exemplars])
        drafts.append(
            {
                "kind": "group_divergence",
                "themes": (t,),
                "subject": subject,
                "strength": effect,
                "strength_name": effect_name,
                "test": test,
                "p_value": p,
                "evidence": {
                    "attribute": attribute,
                    "groups": kept,
                    "counts": {g: counts[g] for g in kept},
                    "all_groups": all_groups,
                    "present_in_all": all(counts[g] >= min_group_count for g in all_groups),
                    "centres": centres,
                    "centre": "geometric_mean" if variable == "triad" else "median",
                },
                "exemplars": ex,
            }
        )
    divergence = finalise(drafts, alpha=alpha, correction=correction)
    consensus = [
        Signal(
            kind="group_consensus",
            themes=d.themes,
            strength=d.strength,
            strength_name=d.strength_name,
            flagged=bool(
                d.evidence["present_in_all"] and not d.flagged and d.strength < max_consensus_effect
            ),
            test=None,
            subject=d.subject,
            evidence={
                **d.evidence,
                "divergence_p_adjusted": d.p_adjusted,
                "max_consensus_effect": max_consensus_effect,
            },
            exemplars=d.exemplars,
        )
        for d in divergence
    ]
    return divergence + consensus
