"""Compile the analysis's numba code before the first analysis needs it.

The neighbour descent (pynndescent), UMAP's layout, the epoch loop that releases the lock and
the large regime's parallel layout (``epochs.py``) are numba functions compiled on their first
call in each process, and most of them are not cached on disk. In a fresh process the first
analysis above ``EXACT_KNN_N`` narratives spent about 30 s compiling them (35 s against 4 s for
the same 12,000 narratives analysed a second time). A job worker calls :func:`warm_up` in the
background when it starts, so a convenor's first analysis does not wait on the compiler.
"""

from __future__ import annotations

import time

import numpy as np

from pipelines.embed import unit_rows
from pipelines.themes.api import find_themes
from pipelines.themes.graph import build_graph

#: Narratives of the made-up set the code is compiled on: enough for every step to run
#: (sub-themes, borders, the map), few enough to take well under a second once compiled.
WARM_N = 400
#: Its groups and dimensions (the compiled code depends on array types, not on sizes).
_GROUPS = 8
_DIM = 32


def _made_up(seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(_GROUPS, _DIM))
    group = np.arange(WARM_N) % _GROUPS
    X = unit_rows(centres[group] + 0.35 * rng.normal(size=(WARM_N, _DIM)))
    words = [f"word{g}a word{g}b common{i % 5}" for i, g in enumerate(group)]
    return words, np.asarray(X, dtype=np.float32)


def warm_up(seed: int = 0) -> float:
    """Run both regimes of the analysis once on a small made-up set; the seconds it took."""
    began = time.perf_counter()
    texts, X = _made_up(seed)
    find_themes(texts, X, random_state=seed)
    # the large regime's neighbour descent and parallel layout, which the small set would not reach
    build_graph(X.astype(np.float64), 15, 5, None, seed, exact_up_to=0, parallel_above=0)
    return time.perf_counter() - began
