"""The service's value check (the JSON batch and the ingest job's rows) over in-memory signifiers.

Cases marked "was" are where the service used to apply a rule of its own; the others pin
what it shares with the file parsers.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.services import signifiers as signifier_service
from models import Signifier, SignifierKind
from pipelines.ingest.values import ValueProblem


def signifier(kind: SignifierKind, **definition: Any) -> Signifier:
    return Signifier(key=kind.value, kind=kind, label="", definition=definition)


TRIAD = signifier(SignifierKind.triad, anchors=["rules", "relationships", "resources"])
DYAD = signifier(SignifierKind.dyad, poles=["plan", "emergence"])
STONES = signifier(SignifierKind.stones, stones=[{"key": "people"}, {"key": "money"}])
ROLE = signifier(SignifierKind.mcq, options=[{"key": "nurse", "label": "Nurse"}, {"key": "porter"}])
FEELINGS = signifier(
    SignifierKind.mcq, multiple=True, options=[{"key": "hopeful"}, {"key": "worried"}]
)
NOTE = signifier(SignifierKind.free_text)


def check(s: Signifier, raw: object) -> tuple[bool, Any]:
    return signifier_service.check_value(s, raw)


def test_invalid_value_is_the_pipeline_error() -> None:
    with pytest.raises(signifier_service.InvalidValue):
        check(DYAD, 2)
    assert issubclass(signifier_service.InvalidValue, ValueProblem)


def test_not_applicable_is_null_only() -> None:
    assert check(DYAD, None) == (True, None)
    assert check(NOTE, "n/a") == (False, "n/a")
    with pytest.raises(signifier_service.InvalidValue):
        check(DYAD, "n/a")


def test_triad_a_hair_below_zero_is_zero() -> None:
    # was: the service refused any negative proportion, while files read this one as 0
    not_applicable, value = check(TRIAD, [0.6, 0.4, -0.0004])
    assert not not_applicable
    assert value == pytest.approx([0.6, 0.4, 0.0], abs=1e-3)
    with pytest.raises(signifier_service.InvalidValue, match="negative"):
        check(TRIAD, [0.6, 0.6, -0.2])


def test_triad_forms() -> None:
    assert check(TRIAD, (50, 30, 20))[1] == [0.5, 0.3, 0.2]
    assert check(TRIAD, {"resources": 0.5, "rules": 0.2, "relationships": 0.3})[1] == [
        0.2,
        0.3,
        0.5,
    ]
    for raw in ([1, 2, 3], [0.2, 0.3], {"rules": 1}, "0.2;0.3;0.5", [0.2, 0.3, math.inf]):
        with pytest.raises(signifier_service.InvalidValue):
            check(TRIAD, raw)


@pytest.mark.parametrize("raw", [1.5, 75, -0.1, "0.5", True, math.nan, [0.5]])
def test_dyad_refused(raw: object) -> None:
    with pytest.raises(signifier_service.InvalidValue):
        check(DYAD, raw)


def test_stones() -> None:
    assert check(STONES, {"money": {"x": 1, "y": 0}})[1] == {"money": {"x": 1.0, "y": 0.0}}
    for raw in (
        {},
        {"time": {"x": 0.1, "y": 0.1}},
        {"money": [0.1, 0.1]},
        {"money": {"x": 0.1, "y": 0.1, "z": 0}},
        {"money": {"x": "0.1", "y": 0.1}},
        {"money": {"x": 10, "y": 0.1}},
    ):
        with pytest.raises(signifier_service.InvalidValue):
            check(STONES, raw)


def test_choices_by_key() -> None:
    assert check(ROLE, "porter") == (False, "porter")
    assert check(ROLE, ["nurse"]) == (False, "nurse")
    assert check(FEELINGS, ["worried", "hopeful", "worried"]) == (False, ["worried", "hopeful"])
    for raw in ("Nurse", "NURSE", ["nurse", "porter"], [], 1):
        with pytest.raises(signifier_service.InvalidValue):
            check(ROLE, raw)


def test_free_text_is_a_string_kept_as_given() -> None:
    assert check(NOTE, "  spaced ") == (False, "  spaced ")
    with pytest.raises(signifier_service.InvalidValue, match="string"):
        check(NOTE, 3)
