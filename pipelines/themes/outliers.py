"""Which narratives outside the dense cores join a theme, and which stay unclustered."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A left-out narrative joins a theme only if its cosine distance to the theme's centroid is
#: at most this multiple of the distance within which 95% of the theme's core members lie.
REACH_STRETCH = 1.5


def within_reach(X: FloatArray, top: IntArray, core: BoolArray, n_top: int) -> BoolArray:
    """Whether each narrative lies within its tentative theme's reach (see ``REACH_STRETCH``)."""
    out = np.zeros(top.size, dtype=bool)
    for t in range(n_top):
        members = top == t
        inner = members & core
        if not inner.any():
            continue
        centre = X[inner].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        dist = 1.0 - X[members] @ centre
        # A handful of core members gives a noisy quantile; the bulk of all members is a floor.
        radius = max(
            float(np.quantile(1.0 - X[inner] @ centre, 0.95)), float(np.quantile(dist, 0.75))
        )
        out[members] = dist <= REACH_STRETCH * max(radius, 1e-6)
    return out
