"""Sub-theme descriptions and soft membership in ``find_themes``."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.themes import ThemeResult, find_themes, top_memberships
from pipelines.themes.membership import complete_subthemes

TOPICS = [
    ("nurses", "ward"),
    ("night", "shifts"),
    ("pharmacy", "insulin"),
    ("prescriptions", "delays"),
    ("parking", "visitors"),
    ("car", "fees"),
]


def _nested(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Three themes, each made of two close sub-themes with their own words."""
    rng = np.random.default_rng(seed)
    dim = 32
    tops = rng.normal(size=(3, dim))
    tops /= np.linalg.norm(tops, axis=1, keepdims=True)
    rows, texts, sub = [], [], []
    for s, (a, b) in enumerate(TOPICS):
        centre = tops[s // 2] + 0.35 * rng.normal(size=dim) / np.sqrt(dim) * 3
        centre /= np.linalg.norm(centre)
        for i in range(40):
            rows.append(centre + 0.06 * rng.normal(size=dim))
            texts.append(f"{a} and {b} story {i % 7}")
            sub.append(s)
    X = np.asarray(rows)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return texts, X.astype(np.float32), np.asarray(sub)


@pytest.fixture(scope="module")
def nested() -> tuple[ThemeResult, np.ndarray]:
    texts, X, sub = _nested()
    return find_themes(texts, X, random_state=0, with_map=False), sub


def test_subthemes_are_described_with_parents(nested: tuple[ThemeResult, np.ndarray]) -> None:
    result, _ = nested
    assert result.subthemes, "expected sub-themes"
    assert len(result.subthemes) == result.subtheme_parents.size
    for d in result.subthemes:
        members = np.flatnonzero(result.subtheme_labels == d.subtheme)
        assert d.size == members.size > 0
        assert d.parent == int(result.subtheme_parents[d.subtheme])
        assert set(result.labels[members]) == {d.parent}
        assert d.subtheme in result.themes[d.parent].subthemes
        assert d.label and d.keywords
        assert set(d.exemplars) <= set(members.tolist())
        assert d.centroid.shape == (32,)
        np.testing.assert_allclose(np.linalg.norm(d.centroid), 1.0, rtol=1e-6)


def test_hierarchy_levels_follow_the_nesting(nested: tuple[ThemeResult, np.ndarray]) -> None:
    result, sub = nested
    # Sub-themes never mix the planted sub-topics, and the top level has fewer groups.
    for d in result.subthemes:
        planted = set(sub[result.subtheme_labels == d.subtheme].tolist())
        assert len(planted) == 1
    assert result.n_themes <= len(result.subthemes)
    words = {w for d in result.subthemes for w in d.label.lower().replace(",", " ").split()}
    assert {"nurses", "pharmacy", "parking"} & words


def test_soft_membership_shapes_and_sums(nested: tuple[ThemeResult, np.ndarray]) -> None:
    result, _ = nested
    n = result.labels.size
    assert result.top_themes.shape == (n, 3) and result.top_probabilities.shape == (n, 3)
    clustered = result.labels >= 0
    np.testing.assert_array_equal(result.top_themes[clustered, 0], result.labels[clustered])
    assert np.all(result.top_themes[~clustered] == -1)
    assert np.all(result.top_probabilities[~clustered] == 0)
    sums = result.top_probabilities.sum(axis=1)
    assert np.all(sums <= 1.0 + 1e-9) and np.all(sums[clustered] > 0)
    p = result.top_probabilities
    assert np.all(p[:, 0][:, None] >= p[:, 1:] - 1e-12)
    assert np.all((result.top_themes == -1) == (p == 0))
    assert np.all(result.top_themes < result.n_themes)


def test_top_memberships_lists_a_second_theme_for_a_bridge() -> None:
    distribution = np.array([[0.55, 0.40, 0.05], [0.98, 0.01, 0.01], [0.2, 0.3, 0.5]])
    labels = np.array([0, 0, 1])
    themes, probs = top_memberships(distribution, labels)
    assert themes[0].tolist() == [0, 1, 2]
    assert themes[1].tolist() == [0, -1, -1]
    # The assigned theme leads even when another scores higher.
    assert themes[2, 0] == 1 and probs[2, 0] >= probs[2, 1]
    assert np.all(probs.sum(axis=1) <= 1.0 + 1e-12)


def test_old_fields_are_unchanged() -> None:
    texts, X, _ = _nested(1)
    result = find_themes(texts[:40], X[:40], with_map=False)
    assert result.top_themes.shape == (40, 3)
    assert all(not t.emerging for t in result.themes)


def test_complete_subthemes_covers_divided_themes_only() -> None:
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.7, 0.7], [1.0, 0.0]])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labels = np.array([0, 0, 0, 0, 0, 1])
    core = np.array([0, -1, 1, -1, -1, 2])
    parents = np.array([0, 0, 1])
    centroids = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    leaves = complete_subthemes(X, labels, core, parents, centroids)
    # theme 0 has two sub-themes: cores keep theme, the rest go to the nearest one
    assert leaves[:4].tolist() == [0, 0, 1, 1]
    assert leaves[4] in (0, 1)
    # theme 1 has a single sub-theme, so no level below it
    assert leaves[5] == -1


def test_leaf_labels_nest_inside_themes(nested: tuple[ThemeResult, np.ndarray]) -> None:
    result, _ = nested
    leaves = result.leaf_labels
    assert leaves.shape == result.labels.shape
    for theme in range(result.n_themes):
        members = result.labels == theme
        kids = result.themes[theme].subthemes
        if len(kids) >= 2:
            assert set(leaves[members].tolist()) <= set(kids)
            assert (leaves[members] >= 0).all()
        else:
            assert (leaves[members] == -1).all()
    assert (leaves[result.labels < 0] == -1).all()
