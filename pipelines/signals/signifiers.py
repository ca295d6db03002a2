"""One entry point for a signifier's stored values, whatever its kind.

Stored value shapes (see `pipelines.ingest.records.SignifierValue`): a triad is a list of three
proportions in anchor order, a dyad a float in ``[0, 1]``, stones ``{stone_key: {"x", "y"}}``, a
multiple-choice answer an option key or a list of keys; ``None`` is "not applicable".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy.typing as npt

from pipelines.signals._core import Correction, Signal, correct_together
from pipelines.signals.categorical import choice_signals, stone_positions, stones_signals
from pipelines.signals.dyads import dyad_signals
from pipelines.signals.triads import triad_signals


def signifier_signals(
    kind: str,
    values: Sequence[Any],
    labels: npt.ArrayLike,
    *,
    key: str | None = None,
    definition: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    correction: Correction = "holm",
    **options: Any,
) -> list[Signal]:
    """Theme signals for one signifier from its stored values.

    Parameters
    ----------
    kind : {"dyad", "triad", "stones", "mcq"}
        The signifier's kind (``free_text`` has no signal of its own).
    values : sequence
        One stored value per narrative, in the shape of the kind (``None`` = not applicable).
    labels : array-like of int
        Theme of each narrative.
    key : str or None
        The signifier's key, used as the signals' subject (``key/stone`` for stones).
    definition : mapping or None
        The signifier's declaration: ``poles`` (dyad), ``anchors`` (triad), ``stones`` (a list of
        ``{"key": ...}``) or ``options`` (a list of ``{"key": ...}``) and ``multiple`` (mcq).
    alpha : float, default=0.05
        Level at which corrected p-values flag a signal.
    correction : {"holm", "bh"}, default="holm"
        Multiple-testing correction over every test for this signifier (all stones together).
    **options
        Further keyword arguments of the detector (``min_count``, ``n_permutations``, ...).

    Returns
    -------
    list of Signal

    Raises
    ------
    ValueError
        For a kind without signals.
    """
    spec = dict(definition or {})
    common: dict[str, Any] = {"alpha": alpha, "correction": correction, **options}
    if kind == "dyad":
        poles = spec.get("poles")
        return dyad_signals(
            values,
            labels,
            subject=key,
            poles=(str(poles[0]), str(poles[1])) if poles and len(poles) == 2 else None,
            **common,
        )
    if kind == "triad":
        return triad_signals(values, labels, subject=key, anchors=spec.get("anchors"), **common)
    if kind == "stones":
        declared = [str(s["key"]) for s in spec.get("stones", []) if "key" in s]
        seen = {k for v in values if v for k in v}
        stones = declared or sorted(seen)
        signals: list[Signal] = []
        for stone in stones:
            subject = f"{key}/{stone}" if key else stone
            signals += stones_signals(
                stone_positions(values, stone), labels, subject=subject, **common
            )
        return correct_together(signals, alpha=alpha, correction=correction)
    if kind == "mcq":
        declared_options = [str(o["key"]) for o in spec.get("options", []) if "key" in o]
        return choice_signals(
            values,
            labels,
            subject=key,
            options=declared_options or None,
            multiple=spec.get("multiple"),
            **common,
        )
    raise ValueError(f"no signals for signifier kind {kind!r}; use dyad, triad, stones or mcq")
