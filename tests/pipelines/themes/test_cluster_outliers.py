"""The reach rule (who joins a theme, who stays unclustered) and the redrawn theme borders."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.metrics import adjusted_rand_score

from pipelines.themes import ThemeClusterer
from pipelines.themes.levels import settle_boundaries
from pipelines.themes.outliers import (
    MIN_AGREEMENT,
    REACH_STRETCH,
    place_by_agreement,
    place_by_reach,
    theme_reach,
)
from tests.pipelines.themes.synthetic import make_blobs


def _unit(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def test_reach_is_stretched_core_radius() -> None:
    X, y = make_blobs([40, 40], seed=5)
    X64 = X.astype(np.float64)
    core = np.ones(y.size, dtype=bool)
    centres, limits = theme_reach(X64, y, core, 2)
    for t in range(2):
        dist = 1.0 - X64[y == t] @ centres[t]
        assert limits[t] == REACH_STRETCH * max(np.quantile(dist, 0.95), np.quantile(dist, 0.75))


def test_narrative_outside_every_reach_stays_unclustered() -> None:
    X, y = make_blobs([50, 50], seed=6)
    rng = np.random.default_rng(3)
    far = _unit(rng.normal(size=(1, X.shape[1])))
    X64 = np.vstack([X.astype(np.float64), far])
    labels = np.append(y, 0)  # tentatively given to theme 0, but far from it
    core = np.append(np.ones(y.size, dtype=bool), False)
    placed, depth = place_by_reach(X64, labels, core, 2)
    assert placed[-1] == -1 and depth[-1] == 0.0
    np.testing.assert_array_equal(placed[:-1], y)
    assert np.all((depth[:-1] > 0.0) & (depth[:-1] <= 1.0))


def test_narrative_given_the_wrong_theme_moves_to_the_one_it_lies_in() -> None:
    X, y = make_blobs([50, 50], seed=7)
    X64 = X.astype(np.float64)
    labels = y.copy()
    labels[0] = 1  # a member of blob 0, given theme 1
    core = np.ones(y.size, dtype=bool)
    core[0] = False
    placed, _ = place_by_reach(X64, labels, core, 2)
    assert placed[0] == 0
    # An unplaced narrative (-1) joins the theme whose reach it lies in.
    labels[0] = -1
    placed, _ = place_by_reach(X64, labels, core, 2)
    assert placed[0] == 0


def test_settled_borders_follow_the_blobs() -> None:
    X, y = make_blobs([60, 60, 60], seed=8)
    X64 = X.astype(np.float64)
    rng = np.random.default_rng(0)
    # Merged themes whose borders are wrong for the narratives outside the cores.
    loose = rng.random(y.size) < 0.3
    merged = np.where(loose, (y + 1) % 3, y)
    settled = settle_boundaries(X64, merged, ~loose, random_state=0)
    assert adjusted_rand_score(y, merged) < 0.7
    assert adjusted_rand_score(y, settled) == 1.0


def test_defaults_place_blob_edges_and_leave_a_stray_out() -> None:
    # Broad blobs, over AUTO_FIXED_MAX_N narratives so the borders are redrawn: their edges
    # fall outside HDBSCAN's dense cores, yet belong to them.
    X, y = make_blobs([500, 400, 300], spread=0.2, seed=10)
    # A stray orthogonal to every blob's mean: as unlike each theme as a text can be.
    means = np.vstack([X[y == t].mean(axis=0) for t in range(3)]).astype(np.float64)
    basis, _ = np.linalg.qr(means.T)
    raw = np.random.default_rng(11).normal(size=X.shape[1])
    stray = _unit((raw - basis @ (basis.T @ raw))[None, :])
    model = ThemeClusterer(random_state=0).fit(np.vstack([X.astype(np.float64), stray]))
    assert model.labels_[-1] == -1
    assert np.mean(model.labels_[:-1] < 0) <= 0.02
    assert adjusted_rand_score(y, model.labels_[:-1]) > 0.95
    placed = model.labels_ >= 0
    assert np.all(model.probabilities_[placed] > 0.0)


def test_small_inputs_keep_the_agreement_rule() -> None:
    # Up to AUTO_FIXED_MAX_N narratives a narrative outside the dense cores joins a theme
    # only with MIN_AGREEMENT of its neighbourhood there, however near it lies.
    X, y = make_blobs([40, 40], seed=12)
    X64 = X.astype(np.float64)
    core = np.ones(y.size, dtype=bool)
    core[:2] = False
    agreement = np.ones(y.size)
    agreement[0] = MIN_AGREEMENT / 2
    labels, kept = place_by_agreement(X64, y, core, agreement, 2)
    assert labels[0] == -1 and labels[1] == y[1]
    assert not kept[:2].any() and kept[2:].all()
