"""Every signifier statistic on the real SenseMaker demo export, recomputed independently.

The data set is read from ``WEFT_BENCH_DATA`` (default ``../shared/data``); the test is skipped
when it is absent. Themes here are the story prompt crossed with the story's valence, so no model
is needed. Each statistic is recomputed with plain numpy/scipy, written apart from the code under
test.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pipelines.signals import (
    choice_signals,
    dyad_signals,
    group_divergence_signals,
    stones_signals,
    summarise_dyad,
    summarise_triad,
    triad_signals,
)

DATA = Path(os.environ.get("WEFT_BENCH_DATA", "../shared/data")) / "sensemaker_demo"
CSV = DATA / "fragments_decoded.csv"

pytestmark = pytest.mark.skipif(not CSV.is_file(), reason="SenseMaker demo data not available")


def _load() -> tuple[list[dict[str, str]], list[str], np.ndarray]:
    with CSV.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    worried = np.array(["worried" in r["prompt"] for r in rows])
    positive = np.array(["positive" in r["list:Overall would you say this is..."] for r in rows])
    labels = np.where(worried, 0, 1) + np.where(positive, 0, 2)  # four themes
    return rows, header, labels.astype(np.int64)


def _num(s: str) -> float:
    return float(s) if s.strip() else np.nan


def _holm(p: list[float]) -> np.ndarray:
    p_arr = np.asarray(p)
    order = np.argsort(p_arr)
    out = np.empty_like(p_arr)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_arr) - rank) * p_arr[i]))
        out[i] = running
    return out


def test_dyads_reproduced() -> None:
    rows, header, labels = _load()
    for col in (c for c in header if c.startswith("dyad:")):
        v = np.array([_num(r[col]) for r in rows])
        ok = np.isfinite(v)
        signals = dyad_signals(v, labels, min_count=10)
        expected_p: list[float] = []
        for s in signals:
            t = s.themes[0]
            x = v[ok & (labels == t)]
            y = v[ok & (labels != t)]
            if s.kind == "dyad_polarised":
                left, mid, right = np.sum(x < 0.2), np.sum((x >= 0.4) & (x < 0.6)), np.sum(x >= 0.8)
                p = max(
                    stats.binomtest(int(left), int(left + mid), 0.5, "greater").pvalue
                    if left + mid
                    else 1.0,
                    stats.binomtest(int(right), int(right + mid), 0.5, "greater").pvalue
                    if right + mid
                    else 1.0,
                )
                assert s.strength == pytest.approx(min(left, right) / x.size)
            else:
                p = stats.ks_2samp(x, y).pvalue
                assert s.evidence["mean_difference"] == pytest.approx(x.mean() - y.mean())
            assert s.p_value == pytest.approx(p)
            expected_p.append(p)
            summary = s.evidence["summary"]
            assert summary["mean"] == pytest.approx(x.mean())
            assert summary["n"] == x.size
            assert summary["bands"]["middle"] == pytest.approx(np.mean((x >= 0.4) & (x < 0.6)))
        np.testing.assert_allclose([s.p_adjusted for s in signals], _holm(expected_p))
        assert summarise_dyad(v).n_not_applicable == int((~ok).sum())


def test_triads_reproduced() -> None:
    rows, header, labels = _load()
    questions = sorted({c.split(":")[1] for c in header if c.startswith("triad:")})
    for q in questions:
        cols = [c for c in header if c.startswith(f"triad:{q}:")]
        raw = np.array([[_num(r[c]) for c in cols] for r in rows])
        ok = np.all(np.isfinite(raw), axis=1)
        comp = raw[ok] / raw[ok].sum(axis=1, keepdims=True)
        lab = labels[ok]
        delta = 0.005
        rep = comp.copy()
        for row in rep:
            small = row < delta
            row[~small] *= (1 - small.sum() * delta) / row[~small].sum()
            row[small] = delta
        logs = np.log(rep)
        clr = logs - logs.mean(axis=1, keepdims=True)
        summary = summarise_triad(raw)
        g = np.exp(logs.mean(axis=0))
        np.testing.assert_allclose(summary.geometric_mean, g / g.sum())
        assert summary.total_variance == pytest.approx(np.trace(np.cov(clr.T)))
        top = comp.max(axis=1)
        vertex = top >= 0.6
        edge = ~vertex & (comp.min(axis=1) < 0.2)
        assert summary.zones["centre"] == pytest.approx(np.mean(~vertex & ~edge))
        assert sum(summary.zones[f"vertex_{k}"] for k in range(3)) == pytest.approx(vertex.mean())
        signals = triad_signals(raw, labels, min_count=10, n_permutations=1999, random_state=1)
        rng = np.random.default_rng(99)
        for s in signals:
            inside = lab == s.themes[0]
            dist2 = float(((clr[inside].mean(0) - clr[~inside].mean(0)) ** 2).sum())
            assert s.strength == pytest.approx(np.sqrt(dist2))
            null = []
            for _ in range(1999):
                perm = rng.permutation(inside)
                null.append(((clr[perm].mean(0) - clr[~perm].mean(0)) ** 2).sum())
            p = (1 + np.sum(np.array(null) >= dist2 - 1e-12)) / 2000
            assert s.p_value == pytest.approx(p, abs=0.02 + 0.2 * p)


def test_stones_and_choices_reproduced() -> None:
    rows, header, labels = _load()
    stone_cols = [c for c in header if c.startswith("stones:") and c.endswith(":x")]
    for col in stone_cols:
        xy = np.array([[_num(r[col]), _num(r[col[:-1] + "y"])] for r in rows])
        ok = np.all(np.isfinite(xy), axis=1)
        quad = (xy[ok, 0] >= 0.5).astype(int) + 2 * (xy[ok, 1] >= 0.5).astype(int)
        for s in stones_signals(xy, labels, min_count=5, n_permutations=999):
            inside = labels[ok] == s.themes[0]
            table = np.array(
                [
                    [np.sum(inside & (quad == k)) for k in range(4)],
                    [np.sum(~inside & (quad == k)) for k in range(4)],
                ]
            )
            table = table[:, table.sum(0) > 0]
            chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
            assert s.strength == pytest.approx(np.sqrt(chi2 / table.sum()))
            if expected.min() >= 5:
                assert s.test == "chi_square" and s.p_value == pytest.approx(p)
            else:
                assert s.test == "chi_square_permutation"
    col = "list:Overall would you say this is..."
    answers = [r[col].strip() or None for r in rows]
    for s in choice_signals(answers, labels, min_count=5):
        inside = np.array([a is not None for a in answers]) & (labels == s.themes[0])
        opts = s.evidence["options"]
        has = np.array([a is not None for a in answers])
        table = np.array(
            [
                [np.sum(inside & np.array([a == o for a in answers])) for o in opts],
                [np.sum(has & ~inside & np.array([a == o for a in answers])) for o in opts],
            ]
        )
        np.testing.assert_array_equal(np.array(s.evidence["table"]), table)


def test_group_divergence_reproduced() -> None:
    rows, header, labels = _load()
    groups = [r["list:Gender?"].strip() or None for r in rows]
    col = next(c for c in header if c.startswith("dyad:"))
    v = np.array([_num(r[col]) for r in rows])
    for s in (
        x
        for x in group_divergence_signals(v, labels, groups, min_group_count=5)
        if x.kind == "group_divergence"
    ):
        mask = (labels == s.themes[0]) & np.isfinite(v) & np.array([g is not None for g in groups])
        kept = s.evidence["groups"]
        samples = [v[mask & np.array([g == k for g in groups])] for k in kept]
        res = stats.kruskal(*samples)
        assert s.p_value == pytest.approx(res.pvalue)
