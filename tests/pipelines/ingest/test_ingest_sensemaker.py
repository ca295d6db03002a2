"""SenseMaker exports: framework definitions and data decoded by them.

The always-on tests use a small fictional export; `TestRealExport` checks the 129 stories
of the public ADemo export against its reference decoding when the shared data is there.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.ingest import (
    SenseMakerDefinition,
    UnreadableFile,
    open_sensemaker_data,
    parse_sensemaker_data,
    parse_sensemaker_definition,
)
from pipelines.ingest.records import NarrativeRecord, SignifierSpec

ReadFixture = Callable[[str], bytes]


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def definition(fixture_bytes: ReadFixture) -> SenseMakerDefinition:
    return parse_sensemaker_definition(fixture_bytes("sensemaker_mini_definition.json"))


@pytest.fixture
def records(fixture_bytes: ReadFixture, definition: SenseMakerDefinition) -> list[NarrativeRecord]:
    return parse_sensemaker_data(fixture_bytes("sensemaker_mini_data.csv"), definition).records


class TestDefinition:
    def test_specs_by_kind(self, definition: SenseMakerDefinition) -> None:
        kinds = {s.key: s.kind for s in definition.signifiers}
        assert kinds == {
            "what_mattered_most_was": "triad",
            "decisions_were": "dyad",
            "place_each_topic": "stones",
            "your_role": "mcq",
            "this_made_you_feel_pick_up_to_3": "mcq",
            "anything_else": "free_text",
        }
        assert definition.story_id == _uuid(1)
        assert definition.title_id == _uuid(2)
        assert definition.name == "Riverside Care Voices"

    def test_labels_are_plain_text(self, definition: SenseMakerDefinition) -> None:
        triad = definition.signifiers[0]
        assert triad.anchors == ["the patient", "the team", "the rules"]
        assert triad.source_id == _uuid(3)
        dyad = definition.by_id[_uuid(4)]
        assert dyad.poles == ["made for us", "made by us"]

    def test_options_stones_and_axes(self, definition: SenseMakerDefinition) -> None:
        role = definition.by_id[_uuid(6)]
        assert role.options == [
            {"key": "nurse", "label": "Nurse"},
            {"key": "porter", "label": "Porter"},
            {"key": "doctor", "label": "Doctor"},
        ]
        assert role.multiple is False
        assert definition.by_id[_uuid(7)].multiple is True
        stones = definition.by_id[_uuid(5)]
        assert stones.stones == [
            {"key": "staffing", "label": "Staffing"},
            {"key": "equipment", "label": "Equipment"},
        ]
        assert stones.axes == {
            "x": ["low control", "high control"],
            "y": ["low impact", "high impact"],
        }

    def test_to_json_matches_signifiers_endpoint(self, definition: SenseMakerDefinition) -> None:
        body = definition.by_id[_uuid(4)].to_json()
        assert body == {
            "key": "decisions_were",
            "kind": "dyad",
            "label": "Decisions were...",
            "poles": ["made for us", "made by us"],
            "source_id": _uuid(4),
        }
        json.dumps([s.to_json() for s in definition.signifiers])  # serialisable

    def test_duplicate_titles_get_unique_keys(self) -> None:
        doc = {
            "signifiers": [
                {"id": "s", "type": "freetext", "fragment": True, "title": "Story"},
                {"id": "a", "type": "dyad", "title": "Pace", "content": {"labels": []}},
                {"id": "b", "type": "dyad", "title": "Pace", "content": {"labels": []}},
            ]
        }
        specs = parse_sensemaker_definition(json.dumps(doc).encode()).signifiers
        assert [s.key for s in specs] == ["pace", "pace_2"]

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"[1, 2", "not valid JSON"),
            (b'{"name": "x"}', "not a SenseMaker framework definition"),
        ],
    )
    def test_unreadable(self, data: bytes, message: str) -> None:
        with pytest.raises(UnreadableFile, match=message):
            parse_sensemaker_definition(data)


class TestData:
    def test_story_title_id_time(self, records: list[NarrativeRecord]) -> None:
        first = records[0]
        assert first.text == "The porter stayed late so the patient could get home before dark."
        assert first.title == "Staying late"
        assert first.external_id == "frag-001"
        assert first.occurred_at == datetime.fromtimestamp(1717000000, tz=UTC)
        assert first.attributes == {"language": "en"}
        assert first.location == "row 2"

    def test_triad_percentages_become_proportions(self, records: list[NarrativeRecord]) -> None:
        assert records[0].signifiers["what_mattered_most_was"] == pytest.approx([0.5, 0.3, 0.2])
        values = records[3].signifiers["what_mattered_most_was"]
        assert isinstance(values, list)
        assert math.fsum(values) == pytest.approx(1.0)

    def test_dyad_0_to_100_scale(self, records: list[NarrativeRecord]) -> None:
        assert records[0].signifiers["decisions_were"] == pytest.approx(0.25)
        assert records[3].signifiers["decisions_were"] == 0.0

    def test_stones_xright_ytop(self, records: list[NarrativeRecord]) -> None:
        assert records[0].signifiers["place_each_topic"] == {"staffing": {"x": 0.2, "y": 0.9}}
        assert records[2].signifiers["place_each_topic"] == {
            "staffing": {"x": 0.5, "y": 0.5},
            "equipment": {"x": 0.1, "y": 0.3},
        }

    def test_single_and_multi_choice(self, records: list[NarrativeRecord]) -> None:
        assert records[0].signifiers["your_role"] == "porter"
        assert records[0].signifiers["this_made_you_feel_pick_up_to_3"] == ["proud", "hopeful"]
        assert records[1].signifiers["this_made_you_feel_pick_up_to_3"] == ["tired", "worried"]

    def test_not_applicable_is_none_and_unanswered_is_absent(
        self, records: list[NarrativeRecord]
    ) -> None:
        second = records[1].signifiers
        assert second["what_mattered_most_was"] is None
        assert second["decisions_were"] is None
        assert "place_each_topic" not in second
        assert second["anything_else"] == "We raised it twice."
        assert "anything_else" not in records[0].signifiers

    def test_row_problems_are_issues(
        self, fixture_bytes: ReadFixture, definition: SenseMakerDefinition
    ) -> None:
        result = parse_sensemaker_data(fixture_bytes("sensemaker_mini_data.csv"), definition)
        reasons = {(i.location, i.reason.split(":")[0]) for i in result.report.issues}
        assert ("row 4", "decisions_were") in reasons
        assert ("row 4", "your_role") in reasons
        assert ("row 5", "no story text") in reasons
        third = result.records[2]
        assert "decisions_were" not in third.signifiers
        assert "your_role" not in third.signifiers
        assert result.report.records == 4
        assert result.report.skipped == 1

    def test_multiline_story_with_quotes(self, records: list[NarrativeRecord]) -> None:
        assert records[3].text == 'Line one, with a comma.\nLine two "quoted".'

    def test_definition_can_be_passed_as_json(self, fixture_bytes: ReadFixture) -> None:
        reader = open_sensemaker_data(
            io.BytesIO(fixture_bytes("sensemaker_mini_data.csv")),
            fixture_bytes("sensemaker_mini_definition.json"),
        )
        assert len(list(reader)) == 4
        assert reader.report.records == 4

    def test_percentx_layout_and_proportions(self) -> None:
        definition = parse_sensemaker_definition(
            json.dumps(
                {
                    "fragment_signifier_id": ["story"],
                    "signifiers": [
                        {"id": "story", "type": "freetext", "title": ["Your story"]},
                        {
                            "id": "t",
                            "type": "triad",
                            "title": ["Triad"],
                            "content": {
                                "labels": [
                                    {"id": "a", "text": "A"},
                                    {"id": "b", "text": "B"},
                                    {"id": "c", "text": "C"},
                                ]
                            },
                        },
                        {
                            "id": "d",
                            "type": "dyad",
                            "title": ["Dyad"],
                            "content": {
                                "labels": [{"id": "l", "text": "L"}, {"id": "r", "text": "R"}]
                            },
                        },
                        {
                            "id": "s",
                            "type": "stones",
                            "title": ["Stones"],
                            "content": {"stones": [{"id": "x1", "title": "One"}]},
                        },
                    ],
                }
            ).encode()
        )
        data = (
            b"id,story,t_percentX,t_percentY,t_a,t_b,t_c,d_percentX,d_l,d_r,s_x1_percentX,s_x1_percentY\n"
            b"r1,A short story,0.5,0.2,0.2,0.3,0.5,0.8,0.2,0.8,0.25,0.75\n"
        )
        (record,) = parse_sensemaker_data(data, definition).records
        assert record.signifiers["triad"] == pytest.approx([0.2, 0.3, 0.5])
        assert record.signifiers["dyad"] == pytest.approx(0.8)
        assert record.signifiers["stones"] == {"one": {"x": 0.25, "y": 0.75}}

    def test_data_without_story_column_is_unreadable(
        self, definition: SenseMakerDefinition
    ) -> None:
        with pytest.raises(UnreadableFile, match="story column"):
            open_sensemaker_data(b"id,text\n1,hello\n", definition)


def _shared_export() -> Path | None:
    base = os.environ.get("WEFT_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    folder = root / "sensemaker_demo"
    needed = (
        "raw_export/ADemo_Data.csv",
        "raw_export/ADemo_Definition.json",
        "fragments_decoded.csv",
    )
    if all((folder / n).is_file() for n in needed):
        return folder
    return None


SHARED = _shared_export()


Decoded = tuple[SenseMakerDefinition, list[NarrativeRecord], list[dict[str, str]]]


@pytest.fixture(scope="module")
def decoded() -> Decoded:
    """The real export parsed, and its reference decoding."""
    assert SHARED is not None
    definition = parse_sensemaker_definition(
        (SHARED / "raw_export/ADemo_Definition.json").read_bytes()
    )
    with (SHARED / "raw_export/ADemo_Data.csv").open("rb") as fh:
        records = parse_sensemaker_data(fh, definition).records
    with (SHARED / "fragments_decoded.csv").open(encoding="utf-8-sig", newline="") as fh:
        reference = list(csv.DictReader(fh))
    return definition, records, reference


@pytest.mark.skipif(
    SHARED is None,
    reason="shared SenseMaker demo export not found (set WEFT_SHARED_DATA or check out ../shared)",
)
class TestRealExport:
    """The ADemo export decoded and compared, value by value, with its reference decoding."""

    def test_every_story_and_value(
        self,
        decoded: Decoded,
    ) -> None:
        definition, records, reference = decoded
        assert len(records) == len(reference) == 129
        specs = {s.label: s for s in definition.signifiers}
        checked = quoted_in_reference = 0
        for record, row in zip(records, reference, strict=True):
            assert record.external_id == row["FragmentID"]
            story = row["story"].replace("\r\n", "\n").strip()
            if record.text != story:
                # The reference was made from a copy where one story (and its title) carries
                # quotation marks that the raw export does not have.
                assert record.text == story.replace('"', "")
                quoted_in_reference += 1
                assert (record.title or "") == row["title"].replace('"', "")
            else:
                assert (record.title or "") == row["title"]
            assert record.occurred_at is not None
            assert record.occurred_at.date().isoformat() == row["EntryDate"]
            checked += _compare_row(record, row, specs)
        # Every non-empty reference cell was compared (triads x3, stones x2 per value).
        expected = sum(
            1
            for row in reference
            for column, cell in row.items()
            if cell
            and column.split(":", 1)[0] in {"stones", "triad", "dyad", "multiselect", "list"}
        ) + sum(1 for row in reference if row["prompt"])
        assert checked == expected > 3000
        assert quoted_in_reference <= 1

    def test_dyads_answered_and_not_applicable(
        self,
        decoded: Decoded,
    ) -> None:
        _, records, _ = decoded
        dyad = "this_situation_was"
        answered = [r for r in records if isinstance(r.signifiers.get(dyad), float)]
        not_applicable = [r for r in records if dyad in r.signifiers and r.signifiers[dyad] is None]
        assert len(answered) == 98
        assert not_applicable  # ticked "not applicable", kept as None rather than 0
        assert all(0.0 <= float(r.signifiers[dyad]) <= 1.0 for r in answered)  # type: ignore[arg-type]


def _option_labels(spec: SignifierSpec, keys: object) -> list[str]:
    labels = {o["key"]: o["label"] for o in spec.options}
    chosen = keys if isinstance(keys, list) else [keys]
    return [labels[str(k)] for k in chosen]


def _compare_row(
    record: NarrativeRecord, row: dict[str, str], specs: dict[str, SignifierSpec]
) -> int:
    """Compare one record with its reference row; returns the number of cells compared."""
    checked = 0
    prompt = specs["Every day, or a few times a week, share ONE situation at work that either:"]
    if row["prompt"]:
        assert _option_labels(prompt, record.signifiers[prompt.key]) == [row["prompt"]]
        checked += 1
    else:
        assert prompt.key not in record.signifiers
    for column, cell in row.items():
        kind, _, rest = column.partition(":")
        if kind == "triad":
            question, _, anchor = rest.rpartition(":")
            spec = specs[question]
            value = record.signifiers.get(spec.key)
            if not cell:
                assert value is None
                continue
            assert isinstance(value, list)
            # The reference clamps a marker a hair outside the triangle; allow 0.1 points.
            assert value[spec.anchors.index(anchor)] * 100 == pytest.approx(float(cell), abs=0.1)
            checked += 1
        elif kind == "dyad":
            question = rest.split(":[", 1)[0]
            value = record.signifiers.get(specs[question].key)
            if not cell:
                assert value is None
                continue
            assert value == pytest.approx(float(cell), abs=1e-9)
            checked += 1
        elif kind == "stones":
            question, stone_label, axis = rest.split(":")
            spec = specs[question]
            stone_key = next(s["key"] for s in spec.stones if s["label"] == stone_label)
            placed = record.signifiers.get(spec.key) or {}
            assert isinstance(placed, dict)
            if not cell:
                assert stone_key not in placed
                continue
            assert placed[stone_key][axis] == pytest.approx(float(cell), abs=1e-9)
            checked += 1
        elif kind in ("multiselect", "list"):
            spec = specs[rest]
            value = record.signifiers.get(spec.key)
            if not cell:
                assert value is None
                continue
            separator = ";" if kind == "multiselect" else "\x00"
            assert _option_labels(spec, value) == cell.split(separator)
            checked += 1
    return checked
