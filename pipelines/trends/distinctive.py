"""Distinctive themes per group: weighted log-odds with an informative Dirichlet prior.

For theme ``w`` and group ``g`` against all other groups together (the informative
Dirichlet model of Monroe, Colaresi & Quinn 2008, "Fightin' Words"), with ``y`` narratives
of the theme out of ``n`` in the group and ``y'`` out of ``n'`` in the rest::

    delta = log((y + a_w) / (n - y + a0 - a_w)) - log((y' + a_w) / (n' - y' + a0 - a_w))
    var   = 1/(y + a_w) + 1/(n - y + a0 - a_w) + 1/(y' + a_w) + 1/(n' - y' + a0 - a_w)
    z     = delta / sqrt(var)

The prior pseudo-counts ``a_w = a0 * pi_w`` follow the overall prevalence ``pi_w`` of the
theme (its narratives over all narratives), scaled by ``a0 = prior_strength``. They pull a
small group's log-odds towards the overall ones, so a group of 12 with 3 narratives in a
theme does not outrank a group of 900 with a steady excess, and they keep empty cells
finite. Each theme is one binary outcome (in the theme or not) rather than one category
of a multinomial, which keeps the statistic right for multi-label assignments and for
tables that leave out unassigned narratives. Word-frequency uses drop the ``n - y`` terms
of the variance because words are rare; themes are not (a theme can hold half of a
group), so they are kept.

Two-sided p-values from ``z`` are corrected with Benjamini-Hochberg across every
theme x group test together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from pipelines.trends.counts import CellKey, CountTable, FloatArray
from pipelines.trends.errors import TrendSettingError
from pipelines.trends.rules import MinimumData
from pipelines.trends.stats import benjamini_hochberg, two_sided_p

#: Default ``a0``: five pseudo-narratives per group, spread over themes by prevalence. On
#: shuffled groups of 10-400 narratives it keeps the unadjusted false-positive rate under
#: the nominal one while losing little power for groups of a few dozen; 20 or more
#: shrinks groups of that size so hard that a real excess is rarely seen.
DEFAULT_PRIOR_STRENGTH = 5.0


class Representation(StrEnum):
    """How a theme stands in a group compared with the other groups."""

    OVER = "over"
    UNDER = "under"
    NEUTRAL = "neutral"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class DistinctiveTheme:
    """One theme in one group, against all other groups together.

    Attributes
    ----------
    theme, group : str, CellKey
        The theme and the group (cell) tested.
    status : Representation
        ``over`` or ``under`` when the q-value is at most ``alpha``, ``neutral`` when
        tested and not significant, ``insufficient`` when not tested (see ``reason``).
    count, group_total : int
        Narratives of the theme in the group, and in the group.
    rest_count, rest_total : int
        The same over all other groups.
    share, rest_share : float or None
        ``count / group_total`` and ``rest_count / rest_total`` (None when a total is 0).
    log_odds, se, z : float or None
        Prior-smoothed log-odds ratio (group vs rest), its standard error and ``z``.
    p_value, q_value : float or None
        Two-sided p-value and Benjamini-Hochberg q-value (None when not tested).
    reason : str or None
        Why the pair was not tested.
    """

    theme: str
    group: CellKey
    status: Representation
    count: int
    group_total: int
    rest_count: int
    rest_total: int
    share: float | None
    rest_share: float | None
    log_odds: float | None
    se: float | None
    z: float | None
    p_value: float | None
    q_value: float | None
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class Distinctiveness:
    """Every theme x group test, as arrays; rows are built on demand.

    Iterating gives one :class:`DistinctiveTheme` per pair, theme by theme, groups in
    table order; :meth:`for_group` and :meth:`significant` build only the rows asked for.

    Attributes
    ----------
    table : CountTable
        The counts tested (cells are the groups).
    log_odds, se, z, p_value, q_value : ndarray, shape (n_themes, n_groups)
        Per pair; NaN where not tested.
    reasons : tuple of tuple of (str or None)
        Per pair, why it was not tested (None when it was).
    prior_strength : float
        ``a0`` used.
    alpha : float
        False-discovery rate the statuses were decided at.
    n_tests : int
        Pairs tested (the BH family size).
    """

    table: CountTable
    log_odds: FloatArray
    se: FloatArray
    z: FloatArray
    p_value: FloatArray
    q_value: FloatArray
    reasons: tuple[tuple[str | None, ...], ...]
    prior_strength: float
    alpha: float
    n_tests: int

    def status(self, i: int, j: int) -> Representation:
        """The status of theme ``i`` in group ``j``."""
        if self.reasons[i][j] is not None:
            return Representation.INSUFFICIENT
        if self.q_value[i, j] <= self.alpha:
            return Representation.OVER if self.z[i, j] > 0 else Representation.UNDER
        return Representation.NEUTRAL

    def row(self, i: int, j: int) -> DistinctiveTheme:
        """Theme ``i`` in group ``j`` (indices into the table)."""
        t = self.table
        count, total = int(t.counts[i, j]), int(t.totals[j])
        rest_count = int(t.counts[i].sum()) - count
        rest_total = t.grand_total - total
        return DistinctiveTheme(
            theme=t.themes[i],
            group=t.cells[j],
            status=self.status(i, j),
            count=count,
            group_total=total,
            rest_count=rest_count,
            rest_total=rest_total,
            share=count / total if total else None,
            rest_share=rest_count / rest_total if rest_total else None,
            log_odds=_optional(self.log_odds[i, j]),
            se=_optional(self.se[i, j]),
            z=_optional(self.z[i, j]),
            p_value=_optional(self.p_value[i, j]),
            q_value=_optional(self.q_value[i, j]),
            reason=self.reasons[i][j],
        )

    def __iter__(self) -> Iterator[DistinctiveTheme]:
        for i in range(self.table.n_themes):
            for j in range(self.table.n_cells):
                yield self.row(i, j)

    def for_group(self, group: CellKey) -> list[DistinctiveTheme]:
        """The rows of one group, most over-represented first, untested last.

        Parameters
        ----------
        group : CellKey
            A cell of the table.

        Returns
        -------
        list of DistinctiveTheme

        Raises
        ------
        KeyError
            When ``group`` is not a cell of the table.
        """
        if group not in self.table.cells:
            raise KeyError(group)
        j = self.table.cells.index(group)
        order = np.argsort(np.where(np.isnan(self.z[:, j]), np.inf, -self.z[:, j]), kind="stable")
        return [self.row(int(i), j) for i in order]

    def significant(self) -> list[DistinctiveTheme]:
        """The over- and under-represented pairs, strongest ``|z|`` first."""
        with np.errstate(invalid="ignore"):
            hits = np.argwhere(self.q_value <= self.alpha)
        order = np.argsort(-np.abs(self.z[hits[:, 0], hits[:, 1]]), kind="stable")
        return [self.row(int(hits[k, 0]), int(hits[k, 1])) for k in order]


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def distinctive_themes(
    table: CountTable,
    *,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    alpha: float = 0.05,
    rules: MinimumData | None = None,
) -> Distinctiveness:
    """Themes over- or under-represented in each group against the others.

    Parameters
    ----------
    table : CountTable
        Theme x group counts and group totals (for crossed dimensions, each cell is a
        group). Every group is compared with all the other cells of the table together.
    prior_strength : float, default 5
        ``a0``: pseudo-narratives added to every group, spread over the themes by their
        overall prevalence. Larger values shrink small groups harder; must be positive.
    alpha : float, default 0.05
        False-discovery rate for the ``over`` and ``under`` statuses.
    rules : MinimumData, optional
        ``min_group_total`` and ``min_theme_count`` decide which pairs are tested.

    Returns
    -------
    Distinctiveness

    Notes
    -----
    A pair is not tested (status ``insufficient``) when there are fewer than two groups,
    when the group or the other groups together hold fewer than ``min_group_total``
    narratives, when the theme holds fewer than ``min_theme_count`` narratives overall,
    or when it holds every narrative (nothing to compare).
    """
    if prior_strength <= 0:
        raise TrendSettingError("prior_strength must be positive")
    if not 0.0 < alpha < 1.0:
        raise TrendSettingError("alpha must be in (0, 1)")
    rules = rules or MinimumData()
    y = table.counts.astype(np.float64)
    n = table.totals.astype(np.float64)
    big_n = float(n.sum())
    theme_total = y.sum(axis=1)
    prevalence = theme_total / big_n if big_n > 0 else np.zeros_like(theme_total)

    rest_y = theme_total[:, None] - y
    rest_n = big_n - n[None, :]
    a_in = prior_strength * prevalence[:, None]
    a_out = prior_strength - a_in
    # Smoothed narratives in and out of the theme, in the group and in the rest.
    group_in, group_out = y + a_in, n[None, :] - y + a_out
    rest_in, rest_out = rest_y + a_in, rest_n - rest_y + a_out

    reasons = _reasons(table, theme_total, rules)
    tested = np.array([[reason is None for reason in row] for row in reasons], dtype=bool)
    tested = tested.reshape(y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = np.log(group_in / group_out) - np.log(rest_in / rest_out)
        se = np.sqrt(1.0 / group_in + 1.0 / group_out + 1.0 / rest_in + 1.0 / rest_out)
        z = log_odds / se
    nan = np.full(y.shape, np.nan)
    log_odds, se, z = (np.where(tested, v, nan) for v in (log_odds, se, z))
    p = two_sided_p(z)
    q = benjamini_hochberg(p)

    for array in (log_odds, se, z, p, q):
        array.setflags(write=False)
    return Distinctiveness(
        table=table,
        log_odds=log_odds,
        se=se,
        z=z,
        p_value=p,
        q_value=q,
        reasons=tuple(tuple(row) for row in reasons),
        prior_strength=prior_strength,
        alpha=alpha,
        n_tests=int(tested.sum()),
    )


def _reasons(
    table: CountTable, theme_total: FloatArray, rules: MinimumData
) -> list[list[str | None]]:
    """Why each theme x group pair cannot be tested, or None when it can."""
    big_n = table.grand_total
    group_reason: list[str | None] = []
    for total in table.totals:
        if table.n_cells < 2:
            group_reason.append("needs at least two groups to compare")
        elif total < rules.min_group_total:
            group_reason.append(f"the group has {total} narratives (needs {rules.min_group_total})")
        elif big_n - total < rules.min_group_total:
            group_reason.append(
                f"the other groups have {big_n - total} narratives (need {rules.min_group_total})"
            )
        else:
            group_reason.append(None)
    theme_reason: list[str | None] = []
    for total in theme_total:
        if total < rules.min_theme_count:
            theme_reason.append(
                f"the theme has {int(total)} narratives (needs {rules.min_theme_count})"
            )
        elif total >= big_n:
            theme_reason.append("every narrative is in this theme")
        else:
            theme_reason.append(None)
    return [[g or t for g in group_reason] for t in theme_reason]
