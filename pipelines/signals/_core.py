"""The `Signal` record, multiple-testing corrections and small shared helpers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Multiple-testing corrections: Holm (family-wise error) or Benjamini-Hochberg (false discovery).
Correction = Literal["holm", "bh"]


@dataclass(frozen=True)
class Signal:
    """One finding about one theme (or a pair of sides within a theme), with its evidence.

    Attributes
    ----------
    kind : str
        What was found, e.g. ``"dyad_polarised"``, ``"triad_shift"``, ``"opposing_sides"``.
    themes : tuple of int
        The theme(s) the finding concerns.
    strength : float
        A readable effect size; ``strength_name`` says which (e.g. ``"aitchison_distance"``).
    strength_name : str
        Name of the effect size in ``strength``.
    flagged : bool
        True when the finding passes its test after correction and its descriptive gates.
    test : str or None
        The test behind ``p_value`` (``None`` for purely descriptive findings).
    p_value : float or None
        Raw p-value of the test.
    p_adjusted : float or None
        The p-value corrected for every test run in the same call (see ``correction``).
    correction : {"holm", "bh"} or None
        The correction applied to ``p_adjusted``.
    interval : tuple of float or None
        A confidence interval for ``strength`` where one is computed.
    subject : str or None
        The signifier, axis, attribute or conversation the finding is about.
    evidence : dict
        The numbers behind the finding, JSON-ready (plain floats, ints, strings, lists, dicts).
    exemplars : dict of str to tuple of int
        Indices (into the inputs) of narratives that illustrate each side, keyed by side name.
    """

    kind: str
    themes: tuple[int, ...]
    strength: float
    strength_name: str
    flagged: bool
    test: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    correction: Correction | None = None
    interval: tuple[float, float] | None = None
    subject: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    exemplars: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The signal as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "themes": list(self.themes),
            "subject": self.subject,
            "strength": jsonable(self.strength),
            "strength_name": self.strength_name,
            "flagged": self.flagged,
            "test": self.test,
            "p_value": jsonable(self.p_value),
            "p_adjusted": jsonable(self.p_adjusted),
            "correction": self.correction,
            "interval": None if self.interval is None else [jsonable(v) for v in self.interval],
            "evidence": jsonable(self.evidence),
            "exemplars": {k: list(v) for k, v in self.exemplars.items()},
        }


def jsonable(value: Any) -> Any:
    """Turn numpy scalars and arrays (possibly nested in dicts/lists) into plain JSON values.

    Non-finite floats become ``None``.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def adjust_pvalues(
    p_values: Sequence[float] | FloatArray, method: Correction = "holm"
) -> FloatArray:
    """Correct p-values for the number of tests.

    Parameters
    ----------
    p_values : sequence of float
        Raw p-values of every test in the family; ``nan`` entries are ignored (left ``nan``).
    method : {"holm", "bh"}, default="holm"
        Holm's step-down procedure (controls the family-wise error rate) or
        Benjamini-Hochberg's step-up procedure (controls the false discovery rate).

    Returns
    -------
    ndarray of float
        Adjusted p-values, same order as the input, each in ``[0, 1]``.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}; use 'holm' or 'bh'")
    out[order] = np.minimum(adj, 1.0)
    return out


def theme_ids(labels: IntArray) -> list[int]:
    """The theme ids present in ``labels`` (``-1`` = unclustered is never a theme)."""
    return [int(t) for t in np.unique(labels) if t >= 0]


def as_labels(labels: npt.ArrayLike, n: int) -> IntArray:
    """Validate theme labels: an integer vector of length ``n``."""
    out = np.asarray(labels, dtype=np.int64)
    if out.ndim != 1 or out.shape[0] != n:
        raise ValueError(f"labels must be a vector of length {n}; got shape {out.shape}")
    return out


def permutation_pvalue(observed: float, null: FloatArray) -> float:
    """Monte Carlo p-value ``(1 + #{null >= observed}) / (1 + B)``, never zero."""
    return float((1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + null.size))


def finalise(drafts: list[dict[str, Any]], *, alpha: float, correction: Correction) -> list[Signal]:
    """Correct the p-values of a batch of draft signals and build the `Signal` records.

    Each draft holds the `Signal` fields; ``gate`` (bool, default True) holds the descriptive
    conditions that must also be met for the signal to be flagged (kept as ``evidence["gate"]``).
    """
    adjusted = adjust_pvalues(
        [np.nan if d.get("p_value") is None else d["p_value"] for d in drafts], correction
    )
    out: list[Signal] = []
    for draft, p_adj in zip(drafts, adjusted, strict=True):
        fields = dict(draft)
        gate = bool(fields.pop("gate", True))
        p_raw = fields.get("p_value")
        tested = p_raw is not None and math.isfinite(float(p_raw))
        fields["evidence"] = {**jsonable(fields.get("evidence", {})), "gate": gate}
        fields["exemplars"] = {
            str(k): tuple(int(i) for i in v) for k, v in fields.get("exemplars", {}).items()
        }
        fields["strength"] = float(fields["strength"])
        if p_raw is not None and tested:
            fields["p_value"] = float(p_raw)
        out.append(
            Signal(
                **fields,
                flagged=gate and tested and bool(p_adj <= alpha),
                p_adjusted=float(p_adj) if tested else None,
                correction=correction if tested else None,
            )
        )
    return out


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(nan, nan)`` when ``n == 0``)."""
    from scipy.stats import norm

    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(0.5 + confidence / 2))
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def correct_together(
    signals: Sequence[Signal], *, alpha: float = 0.05, correction: Correction = "holm"
) -> list[Signal]:
    """Correct the tests of several detector calls as one family.

    Each detector corrects the tests of its own call. To treat the calls of a whole analysis (every
    dyad of a project, say) as one family, pass all their signals here: the raw p-values are
    corrected together and ``flagged`` recomputed (the descriptive gate of each signal,
    ``evidence["gate"]``, still applies). Signals without a test are returned unchanged.

    Parameters
    ----------
    signals : sequence of Signal
        Signals from one or more detector calls.
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        The correction.

    Returns
    -------
    list of Signal
        The same signals, in the same order, with ``p_adjusted``, ``correction`` and ``flagged``
        recomputed.
    """
    from dataclasses import replace

    tested = [i for i, s in enumerate(signals) if s.p_value is not None]
    adjusted = adjust_pvalues([float(signals[i].p_value or 0.0) for i in tested], correction)
    out = list(signals)
    for i, p_adj in zip(tested, adjusted, strict=True):
        s = signals[i]
        gate = bool(s.evidence.get("gate", True))
        out[i] = replace(
            s, p_adjusted=float(p_adj), correction=correction, flagged=gate and p_adj <= alpha
        )
    return out
