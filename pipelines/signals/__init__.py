"""Tension and polarity signals: per-theme statistics and tests over signifiers, text and votes.

Every detector takes plain arrays and theme labels (``-1`` = unclustered) and returns `Signal`
records: what was found, for which theme(s), an effect size, the test and its p-value corrected for
every test run in the same call (Holm by default, Benjamini-Hochberg on request), the numbers behind
it and exemplar narratives from each side. A signal's ``flagged`` says whether it passed; themes
with too little data are not tested at all.
"""

from pipelines.signals._core import Correction, Signal, adjust_pvalues, correct_together
from pipelines.signals.axes import axis_positions, axis_signals, project_scale
from pipelines.signals.categorical import (
    QUADRANTS,
    ChoiceShares,
    adjusted_residuals,
    choice_shares,
    choice_signals,
    contingency_test,
    quadrant_shares,
    quadrants,
    stone_positions,
    stones_signals,
)
from pipelines.signals.dyads import (
    BAND_NAMES,
    DyadSummary,
    dyad_signals,
    dyad_summaries,
    polarisation_test,
    summarise_dyad,
)
from pipelines.signals.groups import group_divergence_signals
from pipelines.signals.sentiment import (
    SENTIMENT_ANCHORS,
    SentimentSummary,
    embedding_sentiment,
    mixed_sentiment_signals,
    sentiment_scores,
    sentiment_summaries,
    summarise_sentiment,
    vader_scores,
)
from pipelines.signals.sides import (
    EVALUATIVE_ANCHORS,
    SideSplit,
    contrast_keywords,
    opposing_sides_signals,
    polarity_seed,
    split_sides,
)
from pipelines.signals.signifiers import signifier_signals
from pipelines.signals.triads import (
    ZONES,
    TriadSummary,
    geometric_mean,
    ilr,
    ilr_inverse,
    replace_zeros,
    summarise_triad,
    total_variance,
    triad_signals,
    triad_summaries,
    zones,
)
from pipelines.signals.votes import (
    CommentVotes,
    VoteTable,
    comment_votes,
    reaction_table,
    vote_signals,
    vote_table,
)

__all__ = [
    "BAND_NAMES",
    "EVALUATIVE_ANCHORS",
    "QUADRANTS",
    "SENTIMENT_ANCHORS",
    "ZONES",
    "ChoiceShares",
    "CommentVotes",
    "Correction",
    "DyadSummary",
    "SentimentSummary",
    "SideSplit",
    "Signal",
    "TriadSummary",
    "VoteTable",
    "adjust_pvalues",
    "adjusted_residuals",
    "axis_positions",
    "axis_signals",
    "choice_shares",
    "choice_signals",
    "comment_votes",
    "contingency_test",
    "contrast_keywords",
    "correct_together",
    "dyad_signals",
    "dyad_summaries",
    "embedding_sentiment",
    "geometric_mean",
    "group_divergence_signals",
    "ilr",
    "ilr_inverse",
    "mixed_sentiment_signals",
    "opposing_sides_signals",
    "polarisation_test",
    "polarity_seed",
    "project_scale",
    "quadrant_shares",
    "quadrants",
    "reaction_table",
    "replace_zeros",
    "sentiment_scores",
    "sentiment_summaries",
    "signifier_signals",
    "split_sides",
    "stone_positions",
    "stones_signals",
    "summarise_dyad",
    "summarise_sentiment",
    "summarise_triad",
    "total_variance",
    "triad_signals",
    "triad_summaries",
    "vader_scores",
    "vote_signals",
    "vote_table",
    "zones",
]
