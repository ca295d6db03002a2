"""Minimum-data rules: below them a statistic says "not enough data" instead of guessing."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.trends.errors import TrendSettingError


@dataclass(frozen=True)
class MinimumData:
    """Thresholds under which a theme, group or history is not tested.

    Attributes
    ----------
    min_group_total : int, default 10
        Narratives a group needs (and the other groups together need) before its themes
        are scored as distinctive.
    min_theme_count : int, default 5
        Narratives a theme needs over the groups compared, or over the trend window,
        before it is tested. Fewer cannot reach significance after correction anyway,
        and the normal approximations behind the z-scores need them.
    min_periods : int, default 3
        Periods or sessions with narratives a trend needs, the latest included.
    min_latest_total : int, default 10
        Narratives the latest period or session needs.
    min_baseline_total : int, default 10
        Narratives the baseline periods (before the latest) need together; also the
        history a theme must be absent from to be called new.
    """

    min_group_total: int = 10
    min_theme_count: int = 5
    min_periods: int = 3
    min_latest_total: int = 10
    min_baseline_total: int = 10

    def __post_init__(self) -> None:
        for name in (
            "min_group_total",
            "min_theme_count",
            "min_latest_total",
            "min_baseline_total",
        ):
            if getattr(self, name) < 1:
                raise TrendSettingError(f"{name} must be at least 1")
        if self.min_periods < 2:
            raise TrendSettingError("min_periods must be at least 2 (a baseline and the latest)")
