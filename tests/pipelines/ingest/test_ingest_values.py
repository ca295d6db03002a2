"""The one signifier-value check and the reading of file cells in front of it.

Where the file parsers and the JSON API used to apply different rules, the tests marked
"was" name what the file path accepted before the rules were made one.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pipelines.ingest import SignifierSpec
from pipelines.ingest.values import (
    ValueProblem,
    check_signifier_value,
    signifier_value,
    spec_definition,
    triad_proportions,
    unit_interval,
)

TRIAD = SignifierSpec(key="t", kind="triad", label="T", anchors=["a", "b", "c"])
DYAD = SignifierSpec(key="d", kind="dyad", label="D", poles=["l", "r"])
STONES = SignifierSpec(
    key="s", kind="stones", label="S", stones=[{"key": "staff", "label": "Staff"}]
)
NO_STONES = SignifierSpec(key="s", kind="stones", label="S")
ROLE = SignifierSpec(
    key="role",
    kind="mcq",
    label="Role",
    options=[{"key": "nurse", "label": "Nurse"}, {"key": "porter", "label": "Porter"}],
)
FEEL = SignifierSpec(
    key="feel",
    kind="mcq",
    label="Feel",
    multiple=True,
    options=[{"key": "proud", "label": "Proud"}, {"key": "tired", "label": "Tired"}],
)
NOTE = SignifierSpec(key="n", kind="free_text", label="N")


def check(spec: SignifierSpec, value: object) -> tuple[bool, object]:
    return check_signifier_value(spec.kind, spec_definition(spec), value)


class TestCheck:
    """Parsed values (what the JSON API carries), checked as they are."""

    def test_none_is_not_applicable_for_every_kind(self) -> None:
        for spec in (TRIAD, DYAD, STONES, ROLE, FEEL, NOTE):
            assert check(spec, None) == (True, None)

    def test_valid_values_normalised(self) -> None:
        assert check(TRIAD, [20, 30, 50]) == (False, [0.2, 0.3, 0.5])
        assert check(TRIAD, {"c": 0.5, "a": 0.2, "b": 0.3}) == (False, [0.2, 0.3, 0.5])
        assert check(DYAD, 1) == (False, 1.0)
        placed = {"staff": {"x": 0.0, "y": 1.0}}
        assert check(STONES, {"staff": {"x": 0, "y": 1}}) == (False, placed)
        assert check(ROLE, ["nurse"]) == (False, "nurse")
        assert check(FEEL, "proud") == (False, ["proud"])
        assert check(NOTE, " as written ") == (False, " as written ")

    @pytest.mark.parametrize(
        ("spec", "value"),
        [
            (DYAD, "0.5"),  # text is a file cell's form, not a value
            (DYAD, 75),  # percentages are a file export's scale
            (DYAD, True),
            (DYAD, math.nan),
            (DYAD, math.inf),
            (DYAD, "n/a"),  # only null means "not applicable"
            (TRIAD, [0.2, 0.3, math.nan]),
            (TRIAD, [True, 0, 0]),
            (TRIAD, ["0.2", "0.3", "0.5"]),
            (TRIAD, [0.5, 0.5, 0.5]),
            (TRIAD, [0.5, 0.5]),
            (STONES, {"staff": {"x": 50, "y": 0.5}}),
            (ROLE, "Nurse"),  # an option's label is not its key
            (ROLE, 1),
            (ROLE, ["nurse", "porter"]),
            (NOTE, 3),
        ],
    )
    def test_refused(self, spec: SignifierSpec, value: object) -> None:
        with pytest.raises(ValueProblem):
            check(spec, value)

    def test_free_text_na_word_is_text(self) -> None:
        assert check(NOTE, "n/a") == (False, "n/a")

    def test_unknown_kind(self) -> None:
        with pytest.raises(ValueProblem, match="unknown signifier kind"):
            check_signifier_value("slider", {}, 0.5)


class TestTriadRules:
    def test_sum_must_be_1_or_100(self) -> None:
        # was: the file path normalised any positive total, so 1;2;3 became sixths
        with pytest.raises(ValueProblem, match="sum to 1"):
            signifier_value("1;2;3", TRIAD)
        with pytest.raises(ValueProblem, match="sum to 1"):
            triad_proportions(["10", "10", "10"])

    def test_rounded_percentages_within_one_percent(self) -> None:
        values = signifier_value("33.3;33.3;33.3", TRIAD)
        assert isinstance(values, list)
        assert math.fsum(values) == pytest.approx(1.0)

    def test_a_hair_below_zero_is_zero_in_both_forms(self) -> None:
        assert check(TRIAD, [0.6, 0.4, -0.0004])[1] == pytest.approx([0.6, 0.4, 0.0], abs=1e-3)
        with pytest.raises(ValueProblem, match="negative"):
            check(TRIAD, [0.6, 0.6, -0.2])

    def test_by_anchor_needs_exactly_the_anchors(self) -> None:
        assert signifier_value('{"a": "20", "b": 30, "c": 50}', TRIAD) == [0.2, 0.3, 0.5]
        # was: the file path ignored keys that are not anchors
        with pytest.raises(ValueProblem, match="exactly the anchors"):
            signifier_value('{"a": 0.2, "b": 0.3, "c": 0.5, "d": 9}', TRIAD)
        with pytest.raises(ValueProblem, match="exactly the anchors"):
            signifier_value('{"a": 0.5, "b": 0.5}', TRIAD)


class TestStonesRules:
    def test_cell_positions_may_be_text_or_percentages(self) -> None:
        cell = '{"staff": {"x": "20", "y": 90}}'
        assert signifier_value(cell, STONES) == {"staff": {"x": 0.2, "y": 0.9}}

    @pytest.mark.parametrize(
        ("spec", "cell", "reason"),
        [
            # was: with no stones declared, the file path took any stone
            (NO_STONES, '{"staff": {"x": 0.1, "y": 0.2}}', "unknown stone"),
            (STONES, '{"visitors": {"x": 0.1, "y": 0.2}}', "unknown stone"),
            # was: the file path stored an empty placement
            (STONES, "{}", "maps stone keys"),
            # was: the file path took [x, y] pairs and ignored extra keys
            (STONES, '{"staff": [0.1, 0.2]}', "needs a position"),
            (STONES, '{"staff": {"x": 0.1, "y": 0.2, "z": 1}}', "needs a position"),
            (STONES, '{"staff": {"x": 0.1}}', "needs a position"),
            (STONES, '{"staff": {"x": 0.1, "y": 101}}', "outside 0-1"),
            (STONES, "[1]", "maps stone keys"),
        ],
    )
    def test_refused(self, spec: SignifierSpec, cell: str, reason: str) -> None:
        with pytest.raises(ValueProblem, match=reason):
            signifier_value(cell, spec)


class TestChoiceRules:
    def test_labels_and_case_resolve_to_keys_in_cells(self) -> None:
        assert signifier_value(" PORTER ", ROLE) == "porter"
        assert signifier_value("Proud; tired", FEEL) == ["proud", "tired"]
        assert signifier_value('["Tired"]', FEEL) == ["tired"]

    def test_a_choice_given_twice_is_kept_once(self) -> None:
        # was: the file path kept both
        assert signifier_value("proud|Proud", FEEL) == ["proud"]

    def test_single_choice_takes_one(self) -> None:
        with pytest.raises(ValueProblem, match="single choice"):
            signifier_value("nurse;porter", ROLE)
        with pytest.raises(ValueProblem, match="not one of the options"):
            signifier_value("surgeon", ROLE)


class TestCells:
    @pytest.mark.parametrize("cell", ["N/A", " n.a. ", "not applicable", "-", "NULL"])
    def test_not_applicable_words(self, cell: str) -> None:
        for spec in (TRIAD, DYAD, STONES, ROLE, NOTE):
            assert signifier_value(cell, spec) is None

    @pytest.mark.parametrize(
        ("cell", "expected"), [("0.25", 0.25), ("25%", 0.25), ("0,25", 0.25), (75, 0.75), (1, 1.0)]
    )
    def test_dyad_forms(self, cell: Any, expected: float) -> None:
        assert signifier_value(cell, DYAD) == expected
        assert unit_interval(cell, "dyad") == expected

    @pytest.mark.parametrize("cell", ["nan", "inf", "-inf", True, "150", "lots"])
    def test_dyad_refused(self, cell: object) -> None:
        with pytest.raises(ValueProblem):
            signifier_value(cell, DYAD)

    def test_free_text_is_kept_as_written(self) -> None:
        # was: text starting with "[" or "{" was read as JSON: refused when it was not JSON,
        # and stored as a Python repr when it was
        assert signifier_value("[citation needed] the ward ", NOTE) == "[citation needed] the ward"
        assert signifier_value('{"a": 1}', NOTE) == '{"a": 1}'
        assert signifier_value(42, NOTE) == "42"

    def test_checked_cells_pass_the_check_again(self) -> None:
        cells: list[tuple[SignifierSpec, object]] = [
            (TRIAD, "50;30;20"),
            (DYAD, "75"),
            (STONES, '{"staff": {"x": 10, "y": 0.5}}'),
            (ROLE, "Nurse"),
            (FEEL, "tired|proud"),
            (NOTE, " fine "),
        ]
        for spec, cell in cells:
            value = signifier_value(cell, spec)
            assert check(spec, value) == (False, value)
