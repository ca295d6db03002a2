from __future__ import annotations

import json

import numpy as np

from pipelines.themes import STAGES, STEPS, ThemeResult, find_themes, narrative_map
from tests.pipelines.themes.synthetic import make_blobs

WORDS = [
    ["nurses", "ward", "shifts"],
    ["pharmacy", "insulin", "prescriptions"],
    ["parking", "visitors", "car park"],
]


def _corpus(sizes: list[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    X, y = make_blobs(sizes, seed=5)
    texts = [
        f"the {WORDS[c][i % 3]} and {WORDS[c][(i + 1) % 3]} again, item {i}"
        for i, c in enumerate(y)
    ]
    return texts, X, y


def test_find_themes_end_to_end() -> None:
    texts, X, _ = _corpus([40, 35, 30])
    result = find_themes(texts, X, random_state=0)
    assert isinstance(result, ThemeResult)
    assert result.n_themes == 3
    assert result.labels.shape == (105,) and result.probabilities.shape == (105,)
    assert result.coords.shape == (105, 2) and result.theme_coords.shape == (3, 2)
    assert np.all(np.abs(result.coords) <= 1.0 + 1e-9)
    assert 0.0 <= result.unclustered_share <= 0.05
    topics = {t.label.split(",")[0] for t in result.themes}
    assert any(w in " ".join(topics) for w in ("nurses", "ward", "shifts"))
    for theme in result.themes:
        assert theme.size == int(np.sum(result.labels == theme.theme))
        assert all(result.labels[i] == theme.theme for i in theme.exemplars)
        assert theme.centroid.shape == (X.shape[1],)
        assert theme.keywords and theme.label
    assert set(result.timings) == set(STEPS) | set(STAGES)
    assert all(v >= 0.0 for v in result.timings.values())
    # the clustering and the describing run one after the other and make up the whole run,
    # bar the wait for the map laid out beside the describing and the bookkeeping
    t = result.timings
    assert t["cluster"] + t["describe"] <= t["total"] + 1e-6
    assert t["cluster"] + t["describe"] + t["map"] >= 0.9 * t["total"]
    clustering = sum(t[s] for s in ("knn", "embedding", "hdbscan", "merge", "borders"))
    assert 0.9 * t["cluster"] <= clustering <= t["cluster"] + 1e-6
    json.dumps(result.parameters)  # stored with the analysis, so it must be plain JSON


def test_find_themes_is_deterministic() -> None:
    texts, X, _ = _corpus([40, 35, 30])
    a = find_themes(texts, X, random_state=3)
    b = find_themes(texts, X, random_state=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.coords, b.coords)


def test_find_themes_with_target_count() -> None:
    texts, X, _ = _corpus([40, 35, 30])
    assert find_themes(texts, X, n_themes=2, with_map=False).n_themes == 2


def test_find_themes_small_and_empty() -> None:
    texts, X, _ = _corpus([4])
    r = find_themes(texts, X)
    assert r.labels.shape == (4,) and r.coords.shape == (4, 2)
    empty = find_themes([], np.zeros((0, 8), np.float32))
    assert empty.n_themes == 0 and empty.labels.shape == (0,)


def test_map_small_input_is_deterministic() -> None:
    X, _ = make_blobs([10, 10])
    a = narrative_map(X)
    np.testing.assert_array_equal(a, narrative_map(X))
    assert a.shape == (20, 2)
