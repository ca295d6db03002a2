"""Theme discovery: clustering, description and a 2-D map of narrative embeddings."""

from pipelines.themes.api import ThemeDescription, ThemeResult, find_themes
from pipelines.themes.cluster import ThemeClusterer, adaptive_min_theme_size
from pipelines.themes.describe import CHAT_STOP_WORDS, ThemeDescriber, exemplar_indices, stem
from pipelines.themes.layout import narrative_map, theme_positions

__all__ = [
    "CHAT_STOP_WORDS",
    "ThemeClusterer",
    "ThemeDescriber",
    "ThemeDescription",
    "ThemeResult",
    "adaptive_min_theme_size",
    "exemplar_indices",
    "find_themes",
    "narrative_map",
    "stem",
    "theme_positions",
]
