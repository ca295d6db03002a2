"""Theme discovery: clustering, description and a 2-D map of narrative embeddings."""

from pipelines.themes.api import (
    STAGES,
    STEPS,
    SubthemeDescription,
    ThemeDescription,
    ThemeResult,
    find_themes,
    library_versions,
)
from pipelines.themes.cluster import ThemeClusterer, adaptive_min_theme_size
from pipelines.themes.describe import CHAT_STOP_WORDS, ThemeDescriber, exemplar_indices, stem
from pipelines.themes.identity import LineageEvent, ThemeMatching, match_themes
from pipelines.themes.incremental import (
    IncrementalResult,
    ReanalysisAdvice,
    assign_incremental,
    reanalysis_due,
)
from pipelines.themes.layout import narrative_map, theme_positions
from pipelines.themes.membership import theme_distribution, top_memberships
from pipelines.themes.warm import warm_up

__all__ = [
    "CHAT_STOP_WORDS",
    "STAGES",
    "STEPS",
    "IncrementalResult",
    "LineageEvent",
    "ReanalysisAdvice",
    "SubthemeDescription",
    "ThemeClusterer",
    "ThemeDescriber",
    "ThemeDescription",
    "ThemeMatching",
    "ThemeResult",
    "adaptive_min_theme_size",
    "assign_incremental",
    "exemplar_indices",
    "find_themes",
    "library_versions",
    "match_themes",
    "narrative_map",
    "reanalysis_due",
    "stem",
    "theme_distribution",
    "theme_positions",
    "top_memberships",
    "warm_up",
]
