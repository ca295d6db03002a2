"""The stored-value entry point and joint correction across detector calls."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.signals import adjust_pvalues, correct_together, dyad_signals, signifier_signals


def test_dispatch_by_kind_with_stored_shapes() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 40)
    dyad: list[float | None] = [float(v) for v in rng.uniform(0, 1, 120)]
    dyad[0] = None
    out = signifier_signals("dyad", dyad, labels, key="d", definition={"poles": ["l", "r"]})
    assert {s.kind for s in out} == {"dyad_polarised", "dyad_shift"}
    assert out[0].evidence["poles"] == ["l", "r"] and out[0].subject == "d"
    triad = [list(v) for v in rng.dirichlet([2, 2, 2], 120)]
    out = signifier_signals("triad", triad, labels, key="t", n_permutations=99)
    assert {s.kind for s in out} == {"triad_shift"}
    stones = [
        {"a": {"x": float(x), "y": float(y)}, "b": {"x": float(y), "y": float(x)}}
        for x, y in rng.uniform(0, 1, (120, 2))
    ]
    out = signifier_signals(
        "stones", stones, labels, key="risk", definition={"stones": [{"key": "a"}, {"key": "b"}]}
    )
    assert {s.subject for s in out} == {"risk/a", "risk/b"}
    p = [s.p_value for s in out]
    np.testing.assert_allclose([s.p_adjusted for s in out], adjust_pvalues(p))
    mcq = [str(o) for o in rng.choice(["x", "y"], 120)]
    out = signifier_signals(
        "mcq", mcq, labels, definition={"options": [{"key": "x"}, {"key": "y"}]}
    )
    assert out[0].evidence["options"] == ["x", "y"]
    with pytest.raises(ValueError):
        signifier_signals("free_text", ["a"] * 120, labels)


def test_correct_together_keeps_gates() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 60)
    polarised = np.r_[rng.beta(1, 9, 30), rng.beta(9, 1, 30), rng.beta(5, 5, 60)]
    first = dyad_signals(polarised, labels)
    second = dyad_signals(rng.uniform(0, 1, 120), labels)
    joint = correct_together(first + second)
    np.testing.assert_allclose(
        [s.p_adjusted for s in joint], adjust_pvalues([s.p_value for s in first + second])
    )
    assert any(s.flagged for s in joint)
    assert all(not s.flagged for s in joint if not s.evidence["gate"])
