from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from pipelines.themes import ThemeClusterer, adaptive_min_theme_size
from tests.pipelines.themes.synthetic import make_blobs

Blobs = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


@pytest.fixture(scope="module")
def fitted(blobs: Blobs) -> ThemeClusterer:
    return ThemeClusterer(random_state=0).fit(blobs[0])


def test_finds_separable_blobs(fitted: ThemeClusterer, blobs: Blobs) -> None:
    _, y = blobs
    assert fitted.n_themes_ == 5
    assert np.mean(fitted.labels_ < 0) <= 0.05
    clustered = fitted.labels_ >= 0
    assert adjusted_rand_score(y[clustered], fitted.labels_[clustered]) > 0.95


def test_learned_state_is_consistent(fitted: ThemeClusterer, blobs: Blobs) -> None:
    X, _ = blobs
    n = X.shape[0]
    assert fitted.labels_.shape == (n,)
    assert fitted.probabilities_.shape == (n,)
    assert np.all((fitted.probabilities_ >= 0) & (fitted.probabilities_ <= 1))
    assert np.all(fitted.probabilities_[fitted.labels_ < 0] == 0)
    assert fitted.centroids_.shape == (fitted.n_themes_, X.shape[1])
    np.testing.assert_allclose(np.linalg.norm(fitted.centroids_, axis=1), 1.0, rtol=1e-6)
    sizes = np.bincount(fitted.labels_[fitted.labels_ >= 0])
    assert list(sizes) == sorted(sizes, reverse=True)
    # Every sub-theme lies inside the theme it names as parent.
    for sub, parent in enumerate(fitted.subtheme_parents_):
        assert set(fitted.labels_[fitted.subtheme_labels_ == sub]) == {parent}


def test_same_seed_same_labels(fitted: ThemeClusterer, blobs: Blobs) -> None:
    again = ThemeClusterer(random_state=0).fit(blobs[0])
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    np.testing.assert_array_equal(again.probabilities_, fitted.probabilities_)


def test_init_only_stores_parameters() -> None:
    est = ThemeClusterer(min_theme_size=7, n_themes=3, random_state=5)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not any(name.endswith("_") for name in vars(copy))


@pytest.mark.parametrize("k", [2, 5, 8])
def test_n_themes_is_respected(blobs: Blobs, k: int) -> None:
    est = ThemeClusterer(n_themes=k, random_state=0).fit(blobs[0])
    assert est.n_themes_ == k
    assert set(np.unique(est.labels_[est.labels_ >= 0])) == set(range(k))


def test_n_themes_merges_nearest_blobs(blobs: Blobs) -> None:
    X, y = blobs
    labels = ThemeClusterer(n_themes=5, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, labels) > 0.95


@pytest.mark.parametrize("n", [0, 1, 2, 5, 9])
def test_tiny_inputs_do_not_raise(n: int) -> None:
    X, _ = make_blobs([n], seed=1) if n else (np.zeros((0, 32), np.float32), None)
    est = ThemeClusterer().fit(X)
    assert est.labels_.shape == (n,)
    assert est.n_themes_ in (0, 1)
    # A clear answer: one theme for all, or nobody in a theme.
    assert len(set(est.labels_.tolist())) <= 1


def test_tiny_input_with_n_themes() -> None:
    X, _ = make_blobs([2], seed=2)
    est = ThemeClusterer(n_themes=3).fit(X)
    assert est.n_themes_ == 2
    X, _ = make_blobs([1], seed=2)
    assert ThemeClusterer(n_themes=3).fit(X).n_themes_ == 1


def test_thirty_messages_keep_their_few_themes() -> None:
    X, y = make_blobs([12, 10, 8], spread=0.1, seed=3)
    est = ThemeClusterer(random_state=0).fit(X)
    assert est.n_themes_ == 3
    assert adjusted_rand_score(y, est.labels_) > 0.9


def test_outlier_stays_unclustered() -> None:
    X, _ = make_blobs([60, 60, 60], seed=4)
    rng = np.random.default_rng(9)
    odd = rng.normal(size=(1, X.shape[1])).astype(np.float32)
    odd /= np.linalg.norm(odd)
    est = ThemeClusterer(random_state=0).fit(np.vstack([X, odd]))
    assert est.n_themes_ == 3
    assert est.labels_[-1] == -1


def test_adaptive_min_theme_size_grows_slowly() -> None:
    sizes = [adaptive_min_theme_size(n) for n in (1, 30, 50, 2_500, 20_000, 10**7)]
    assert sizes == sorted(sizes)
    assert sizes[0] == sizes[1] == 2 and sizes[2] == 3 and sizes[-1] == 100


def test_bad_parameters_raise() -> None:
    X, _ = make_blobs([10])
    with pytest.raises(ValueError):
        ThemeClusterer(n_themes=0).fit(X)
    with pytest.raises(ValueError):
        ThemeClusterer(min_theme_size=0).fit(X)


def test_auto_resolution_never_picks_a_catch_all_theme(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.themes import levels

    # Six sub-themes, weakly linked: the coarse resolutions merge them all into one theme.
    weights = np.full((6, 6), 0.08) + np.eye(6)
    seeds = np.repeat(np.arange(6), 200)
    reduced = np.random.default_rng(0).normal(size=(seeds.size, 5))
    # A criterion that always prefers fewer themes would choose the single catch-all.
    monkeypatch.setattr(levels, "spread", lambda _, labels, __: float(np.unique(labels).size))
    parent, gamma = ThemeClusterer()._merge(weights, None, reduced, seeds)
    assert np.unique(parent).size == 6
    assert gamma >= 0.35


def test_short_chat_keeps_its_small_groups_apart() -> None:
    # 28 messages in four groups of seven around one broad topic: a short session's themes.
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    base /= np.linalg.norm(base)
    rows, truth = [], []
    for group in range(4):
        centre = base + 0.5 * rng.normal(size=16) / 4.0
        for _ in range(7):
            rows.append(centre + 0.1 * rng.normal(size=16))
            truth.append(group)
    model = ThemeClusterer(random_state=0).fit(np.asarray(rows))
    assert model.n_themes_ == 4
    assert adjusted_rand_score(truth, model.labels_) > 0.8
