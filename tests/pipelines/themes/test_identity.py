"""Theme keys across analyses: ``match_themes``."""

from __future__ import annotations

import numpy as np

from pipelines.themes import find_themes, match_themes
from tests.pipelines.themes.synthetic import make_blobs


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_same_themes_keep_their_keys_in_any_order() -> None:
    rng = np.random.default_rng(0)
    c = _unit(rng.normal(size=(3, 8)))
    prev = {"ta": c[0], "tb": c[1], "tc": c[2]}
    members = {"ta": set(range(0, 10)), "tb": set(range(10, 20)), "tc": set(range(20, 30))}
    new_members = [set(range(20, 30)), set(range(0, 10)), set(range(10, 20))]
    m = match_themes(prev, members, c[[2, 0, 1]], new_members)
    assert m.keys == ["tc", "ta", "tb"]
    assert [e.kind for e in m.events] == ["continued"] * 3
    assert m.kept() == {0: "tc", 1: "ta", 2: "tb"}


def test_split_merge_new_and_ended_are_recorded() -> None:
    rng = np.random.default_rng(1)
    c = _unit(rng.normal(size=(6, 8)))
    prev = {"a": c[0], "b": c[1], "c": c[2], "d": c[3]}
    members = {
        "a": set(range(0, 20)),  # splits in two
        "b": set(range(20, 30)),  # merges with c
        "c": set(range(30, 40)),
        "d": set(range(40, 50)),  # gone
    }
    new_members = [
        set(range(0, 12)),
        set(range(12, 20)),
        set(range(20, 40)),
        set(range(100, 110)),
    ]
    new_c = _unit(np.vstack([c[0], c[0] + 0.5 * c[4], c[1] + c[2], c[5]]))
    m = match_themes(prev, members, new_c, new_members, new_ids=set(range(200)))
    assert m.keys[0] == "a" and m.keys[2] in {"b", "c"} and m.keys[3] is None
    kinds = {(e.kind, e.previous, e.current) for e in m.events}
    assert ("split", ("a",), (0, 1)) in kinds
    assert ("merged", ("b", "c"), (2,)) in kinds
    assert ("new", (), (3,)) in kinds
    assert ("ended", ("d",), ()) in kinds
    split = next(e for e in m.events if e.kind == "split")
    assert split.overlaps == (("a", 0, 12), ("a", 1, 8))


def test_without_shared_narratives_centroids_decide() -> None:
    rng = np.random.default_rng(2)
    c = _unit(rng.normal(size=(2, 8)))
    m = match_themes({"x": c[0], "y": c[1]}, {}, np.vstack([c[1] + 0.01, -c[0]]), [{1}, {2}])
    assert m.keys == ["y", None]


def test_identical_inputs_identical_output() -> None:
    rng = np.random.default_rng(3)
    c = _unit(rng.normal(size=(4, 8)))
    prev = {f"k{i}": c[i] for i in range(4)}
    members = {f"k{i}": set(range(10 * i, 10 * i + 10)) for i in range(4)}
    new = [set(range(0, 15)), set(range(15, 40))]
    a = match_themes(prev, members, c[:2], new)
    b = match_themes(prev, members, c[:2], new)
    assert a.keys == b.keys and a.events == b.events
    np.testing.assert_array_equal(a.overlaps, b.overlaps)


def test_empty_inputs() -> None:
    m = match_themes({}, {}, np.zeros((0, 4)), [])
    assert m.keys == [] and m.events == []
    m = match_themes({"a": np.ones(4)}, {"a": {1}}, np.zeros((0, 4)), [])
    assert [e.kind for e in m.events] == ["ended"]


def test_key_kept_on_rerun_with_more_narratives() -> None:
    X, _ = make_blobs([50, 45, 40], seed=7)
    texts = [f"t{i}" for i in range(X.shape[0])]
    ids = list(range(X.shape[0]))
    first_idx = [i for i in ids if i % 10 != 0]
    first = find_themes([texts[i] for i in first_idx], X[first_idx], with_map=False)
    prev_c = {f"key{t.theme}": t.centroid for t in first.themes}
    prev_m = {
        f"key{t.theme}": {first_idx[i] for i in np.flatnonzero(first.labels == t.theme)}
        for t in first.themes
    }
    second = find_themes(texts, X, with_map=False)
    new_c = np.vstack([t.centroid for t in second.themes])
    new_m = [set(np.flatnonzero(second.labels == t.theme).tolist()) for t in second.themes]
    m = match_themes(prev_c, prev_m, new_c, new_m, new_ids=set(ids))
    assert sorted(k for k in m.keys if k is not None) == sorted(prev_c)
    assert all(e.kind == "continued" for e in m.events)
