"""The two ways a trend statistic refuses its input, both ``ValueError`` subclasses so that
callers which only know "bad value" still catch them."""

from __future__ import annotations


class TrendInputError(ValueError):
    """A count table that cannot be analysed (bad shape, negative or impossible counts)."""


class TrendSettingError(ValueError):
    """A setting out of its range: window, baseline, alpha, prior strength, a minimum, a kind
    of period, or an axis layout the statistics cannot read."""
