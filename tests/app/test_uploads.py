from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs.context import JobContext
from app.main import create_app
from app.services import narratives as narrative_service
from app.services import upload_progress
from models import (
    Job,
    JobStatus,
    Narrative,
    Signifier,
    SignifierValue,
    Source,
    SourceStatus,
    VoteTally,
)
from tests.app.test_signifiers import declare
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project, wait_for_job

FIXTURES = Path(__file__).resolve().parents[1] / "pipelines" / "ingest" / "fixtures"

STORIES_CSV = (
    b"id,story,role,site\n"
    b"s-1,The porter stayed late so the patient got home before dark.,porter,North\n"
    b"s-2,We used two forms because nobody knew which one was right.,nurse,South\n"
    b"s-3,,nurse,South\n"
    b"s-4,Handover moved to 8 and the night shift missed it.,nurse,North\n"
)


def upload(
    project: ProjectHandle,
    files: dict[str, tuple[str, bytes]],
    key: str | None = None,
    **fields: str,
) -> Any:
    return project.client.post(
        project.url("/uploads"),
        files={role: (name, data) for role, (name, data) in files.items()},
        data=fields,
        headers=auth(key or project.admin_key),
    )


def upload_and_wait(
    project: ProjectHandle, files: dict[str, tuple[str, bytes]], **fields: str
) -> dict[str, Any]:
    response = upload(project, files, **fields)
    assert response.status_code == 202, response.text
    return wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])


def texts(project: ProjectHandle, **params: Any) -> list[str]:
    return [n["text"] for n in project.get("/narratives", limit=1000, **params).json()["items"]]


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestPostUpload:
    def test_csv_is_stored_by_a_job(self, project: ProjectHandle, data_dir: Path) -> None:
        response = upload(project, {"file": ("stories.csv", STORIES_CSV)})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["duplicate"] is False
        assert body["source"]["status"] == "queued"
        assert body["source"]["sha256"] == hashlib.sha256(STORIES_CSV).hexdigest()
        assert body["job"]["kind"] == "ingest"
        # the file is kept on disk under the data directory, named by its hash
        assert (data_dir / "uploads" / project.id / body["source"]["sha256"]).is_file()

        job = wait_for_job(project.client, project.admin_key, body["job"]["id"])
        assert job["status"] == "succeeded", job
        report = job["result"]["report"]
        assert (report["records"], report["stored"], report["skipped"]) == (3, 3, 1)
        assert job["result"]["embed_job_id"]

        listed = project.get("/narratives").json()["items"]
        assert [n["external_id"] for n in listed] == ["s-1", "s-2", "s-4"]
        assert listed[0]["attributes"] == {"role": "porter", "site": "North"}
        assert project.get("/narratives", attribute="site:North").json()["total"] == 2
        source = project.get(f"/uploads/{body['source']['id']}").json()
        assert source["status"] == "stored"
        assert source["report"]["stored"] == 3

    def test_reposting_the_same_file_returns_the_existing_source(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        first = upload(project, {"file": ("stories.csv", STORIES_CSV)}).json()
        wait_for_job(project.client, project.admin_key, first["job"]["id"])
        # same bytes under another name
        again = upload(project, {"file": ("copy of stories.csv", STORIES_CSV)})
        assert again.status_code == 202
        body = again.json()
        assert body["duplicate"] is True
        assert body["source"]["id"] == first["source"]["id"]
        assert body["job"]["id"] == first["job"]["id"]
        assert body["source"]["status"] == "stored"
        assert count(engine, Source) == 1
        assert project.get("/narratives").json()["total"] == 3

    def test_overlapping_file_stores_only_new_rows_and_reports_the_rest(
        self, project: ProjectHandle
    ) -> None:
        upload_and_wait(project, {"file": ("stories.csv", STORIES_CSV)})
        more = STORIES_CSV + b"s-5,A new story about the discharge lounge.,porter,East\n"
        job = upload_and_wait(project, {"file": ("stories-v2.csv", more)})
        report = job["result"]["report"]
        assert (report["stored"], report["duplicates"]) == (1, 3)
        duplicates = [i["location"] for i in report["issues"] if "already stored" in i["reason"]]
        assert duplicates == ["row 2", "row 3", "row 5"]
        assert project.get("/narratives").json()["total"] == 4

    def test_partial_failure_report_lists_each_row_not_stored(
        self, client: TestClient, settings: Settings, embedder: CountingEmbedder
    ) -> None:
        project = make_project(client)
        declare(project)
        rows = [
            "id,story,control",
            "a,A fine story.,0.5",
            "b,,0.2",  # no text
            "c," + "x" * 20_001 + ",0.1",  # over the text limit
            "d,A story with a dyad out of range.,170",  # value refused, story kept
            "e,Another fine story.,",
        ]
        job = upload_and_wait(
            project,
            {"file": ("rows.csv", "\n".join(rows).encode())},
            mapping=json.dumps({"id": "id", "signifiers": {"control": "control"}}),
        )
        assert job["status"] == "succeeded", job
        report = job["result"]["report"]
        assert (report["records"], report["stored"], report["skipped"]) == (3, 3, 2)
        issues = {i["location"]: i["reason"] for i in report["issues"]}
        assert issues["row 3"] == "empty text"
        assert "over the limit of 20000" in issues["row 4"]
        assert "control" in issues["row 5"]
        stored = project.get("/narratives").json()["items"]
        assert [n["external_id"] for n in stored] == ["a", "d", "e"]
        assert stored[0]["signifiers"] == {"control": 0.5}
        assert stored[1]["signifiers"] == {}

    def test_attribute_longer_than_its_column_is_left_out_and_reported(
        self, client: TestClient
    ) -> None:
        # the same caps as a JSON batch; before, the value was kept in the narrative's JSON
        # but missing from the group index, so filters and group statistics never saw it
        project = make_project(client)
        rows = ["story,site", "A fine story.,North", "Another story.," + "s" * 501]
        job = upload_and_wait(
            project,
            {"file": ("rows.csv", "\n".join(rows).encode())},
            mapping=json.dumps({"text": "story", "attributes": ["site"]}),
        )
        assert job["status"] == "succeeded", job
        report = job["result"]["report"]
        assert report["stored"] == 2
        issues = {i["location"]: i["reason"] for i in report["issues"]}
        assert "'site' is longer than 500 characters; not stored" in issues["row 3"]
        stored = {n["text"]: n["attributes"] for n in project.get("/narratives").json()["items"]}
        assert stored == {"A fine story.": {"site": "North"}, "Another story.": {}}

    @pytest.mark.parametrize(
        ("name", "data", "message"),
        [
            ("empty.csv", b"", "empty"),
            ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 20, "PDF"),
            ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 200, "Excel workbook cannot be read"),
            ("only-header.csv", b"id,story\n", "no narratives"),
            ("stories.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 50, "gzip"),
            ("cut.json", b'[{"text": "a sto', "not valid JSON"),
            ("numbers.csv", b"a,b\n1,2\n3,4\n", "No column holding the narrative text"),
            (
                "meeting_saved_chat.txt",
                (FIXTURES / "zoom_chat_new.txt").read_bytes(),
                "/sessions",
            ),
        ],
        ids=["empty", "pdf", "broken-xlsx", "header-only", "gzip", "cut-json", "no-text", "chat"],
    )
    def test_unreadable_file_fails_the_job_and_stores_nothing(
        self, project: ProjectHandle, engine: Engine, name: str, data: bytes, message: str
    ) -> None:
        job = upload_and_wait(project, {"file": (name, data)})
        assert job["status"] == "failed"
        assert message.lower() in job["error"].lower(), job["error"]
        assert count(engine, Narrative) == 0
        with Session(engine) as session:
            (source_id,) = session.scalars(select(Source.id)).all()
        source = project.get(f"/uploads/{source_id}").json()
        assert source["status"] == "failed"
        assert source["error"] == job["error"]

    def test_a_refused_file_can_be_posted_again_with_a_mapping(
        self, project: ProjectHandle
    ) -> None:
        data = b"code,words\nA1,The lift was broken again.\nA2,We carried the chairs.\n"
        failed = upload_and_wait(project, {"file": ("odd.csv", data)})
        assert failed["status"] == "failed"
        response = upload(
            project,
            {"file": ("odd.csv", data)},
            mapping=json.dumps({"text": "words", "id": "code"}),
        )
        assert response.status_code == 202
        assert response.json()["duplicate"] is True
        job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        assert job["status"] == "succeeded", job
        assert texts(project) == ["The lift was broken again.", "We carried the chairs."]

    def test_fatal_error_mid_file_leaves_nothing_behind(
        self,
        project: ProjectHandle,
        engine: Engine,
        monkeypatch: pytest.MonkeyPatch,
        client: TestClient,
    ) -> None:
        settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
        monkeypatch.setattr(settings, "ingest_chunk_size", 2)
        original = narrative_service.insert_chunk
        calls = []

        def failing_second_chunk(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("the disk is full")
            return original(*args, **kwargs)

        monkeypatch.setattr(narrative_service, "insert_chunk", failing_second_chunk)
        rows = "id,story\n" + "".join(f"{i},Story number {i}\n" for i in range(7))
        job = upload_and_wait(project, {"file": ("seven.csv", rows.encode())})
        assert job["status"] == "failed"
        assert len(calls) == 2  # the first chunk was inserted, then rolled back
        assert count(engine, Narrative) == 0

    def test_row_limit_fails_the_job(
        self, project: ProjectHandle, engine: Engine, client: TestClient, monkeypatch: Any
    ) -> None:
        settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
        monkeypatch.setattr(settings, "max_upload_rows", 2)
        job = upload_and_wait(project, {"file": ("stories.csv", STORIES_CSV)})
        assert job["status"] == "failed"
        assert "more than 2 rows" in job["error"]
        assert count(engine, Narrative) == 0

    def test_needs_a_write_key_and_multipart(self, project: ProjectHandle) -> None:
        read_key = project.key("read")
        assert upload(project, {"file": ("s.csv", STORIES_CSV)}, key=read_key).status_code == 403
        response = project.client.post(
            project.url("/uploads"), content=STORIES_CSV, headers=auth(project.admin_key)
        )
        assert response.status_code == 415
        assert response.headers["content-type"] == "application/problem+json"
        response = project.client.post(
            project.url("/uploads"),
            data={"format": "csv"},
            files={"other": ("s.csv", STORIES_CSV)},
            headers=auth(project.admin_key),
        )
        assert response.status_code == 422
        assert "other" in response.json()["detail"]

    def test_bad_form_fields_are_422_with_the_field(self, project: ProjectHandle) -> None:
        response = upload(project, {"file": ("s.csv", STORIES_CSV)}, mapping="{not json")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "mapping"
        response = upload(project, {"file": ("s.csv", STORIES_CSV)}, fromat="csv")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "fromat"
        response = upload(
            project,
            {"file": ("s.csv", STORIES_CSV)},
            mapping=json.dumps({"signifiers": {"mood": "mood"}}),
        )
        assert response.status_code == 422
        assert "undeclared signifier" in response.json()["detail"]


class TestUploadLimit:
    LIMIT = 4096

    @pytest.fixture
    def client(self, settings: Settings, embedder: CountingEmbedder) -> Iterator[TestClient]:
        limited = settings.model_copy(update={"max_upload_bytes": self.LIMIT})
        with TestClient(create_app(limited, embedder=embedder)) as test_client:
            yield test_client

    def test_oversize_file_is_413_and_nothing_is_kept(
        self, project: ProjectHandle, engine: Engine, data_dir: Path
    ) -> None:
        big = b"id,story\n" + b"".join(b"%d,words words words\n" % i for i in range(400))
        response = upload(project, {"file": ("big.csv", big)})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert str(self.LIMIT) in response.json()["detail"]
        assert count(engine, Source) == 0
        assert not (data_dir / "uploads").exists()

    def test_streamed_body_is_cut_at_the_limit(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        boundary = "weft-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        sent: list[int] = []

        def body() -> Iterator[bytes]:
            yield head
            for _ in range(1000):  # far more than the limit; no Content-Length
                sent.append(1)
                yield b"x" * 1024

        response = project.client.post(
            project.url("/uploads"),
            content=body(),
            headers={
                **auth(project.admin_key),
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert response.status_code == 413
        assert count(engine, Source) == 0

    def test_small_file_passes(self, project: ProjectHandle) -> None:
        job = upload_and_wait(project, {"file": ("stories.csv", STORIES_CSV)})
        assert job["status"] == "succeeded"


class TestColumnMapping:
    def test_mapping_given(self, project: ProjectHandle) -> None:
        declare(project)
        data = (
            b"Ref;Wat er gebeurde;Wanneer;Wie;Afdeling;Interne notitie;Mate van controle\n"
            b"r1;De lift was weer kapot.;03/04/2026;Ada Byron;Noord;geheim;0,3\n"
            b"r2;We droegen de stoelen.;04/04/2026;Ada Byron;Zuid;geheim;\n"
        )
        mapping = {
            "text": "Wat er gebeurde",
            "id": "Ref",
            "time": "Wanneer",
            "author": "Wie",
            "attributes": ["Afdeling"],
            "signifiers": {"Mate van controle": "control"},
        }
        job = upload_and_wait(
            project,
            {"file": ("export.csv", data)},
            mapping=json.dumps(mapping),
            timezone="Europe/Amsterdam",
        )
        assert job["status"] == "succeeded", job
        stored = project.get("/narratives").json()["items"]
        assert [n["external_id"] for n in stored] == ["r1", "r2"]
        first = stored[0]
        assert first["text"] == "De lift was weer kapot."
        assert first["attributes"] == {"Afdeling": "Noord"}  # "Interne notitie" left out
        assert first["occurred_at"].startswith("2026-04-02T22:00:00")  # 3 April, Amsterdam
        assert first["signifiers"] == {"control": 0.3}
        assert first["author"].startswith("person-") and stored[1]["author"] == first["author"]

    def test_mapping_inferred_from_headers(self, project: ProjectHandle) -> None:
        data = (
            b"Story ID,Your story,Date submitted,Site\n"
            b"7,The ward clerk found the missing notes.,2026-02-01,East\n"
            b"8,Nobody answered the bleep.,2026-02-02,West\n"
        )
        job = upload_and_wait(project, {"file": ("survey.csv", data)})
        assert job["status"] == "succeeded", job
        stored = project.get("/narratives").json()["items"]
        assert [(n["external_id"], n["attributes"]) for n in stored] == [
            ("7", {"Site": "East"}),
            ("8", {"Site": "West"}),
        ]
        assert stored[0]["occurred_at"].startswith("2026-02-01")


FORMAT_ROWS: list[dict[str, Any]] = [
    {"id": "j1", "text": "The discharge lounge was full by noon.", "team": "flow"},
    {"id": "j2", "text": "Pharmacy sent the meds before transport came.", "team": "pharmacy"},
]


class TestFormats:
    ROWS = FORMAT_ROWS

    def _check(self, project: ProjectHandle, name: str, data: bytes, **fields: str) -> None:
        job = upload_and_wait(project, {"file": (name, data)}, **fields)
        assert job["status"] == "succeeded", job
        stored = project.get("/narratives").json()["items"]
        assert [(n["external_id"], n["text"], n["attributes"]) for n in stored] == [
            (r["id"], r["text"], {"team": r["team"]}) for r in self.ROWS
        ]

    def test_tsv(self, project: ProjectHandle) -> None:
        lines = ["id\ttext\tteam"] + [f"{r['id']}\t{r['text']}\t{r['team']}" for r in self.ROWS]
        self._check(project, "rows.tsv", "\n".join(lines).encode())

    def test_jsonl(self, project: ProjectHandle) -> None:
        self._check(project, "rows.jsonl", "\n".join(json.dumps(r) for r in self.ROWS).encode())

    def test_json_array(self, project: ProjectHandle) -> None:
        self._check(project, "rows.json", json.dumps(self.ROWS).encode())

    def test_xlsx(self, project: ProjectHandle) -> None:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["id", "text", "team"])
        for r in self.ROWS:
            sheet.append([r["id"], r["text"], r["team"]])
        out = io.BytesIO()
        book.save(out)
        self._check(project, "rows.xlsx", out.getvalue())

    def test_format_given_overrides_the_name(self, project: ProjectHandle) -> None:
        lines = ["id\ttext\tteam"] + [f"{r['id']}\t{r['text']}\t{r['team']}" for r in self.ROWS]
        self._check(project, "export.txt", "\n".join(lines).encode(), format="tsv")


class TestSenseMaker:
    def _files(self) -> dict[str, tuple[str, bytes]]:
        return {
            "file": ("data.csv", (FIXTURES / "sensemaker_mini_data.csv").read_bytes()),
            "definition": (
                "definition.json",
                (FIXTURES / "sensemaker_mini_definition.json").read_bytes(),
            ),
        }

    def test_definition_and_data_are_imported_together(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = upload_and_wait(project, self._files())
        assert job["status"] == "succeeded", job
        report = job["result"]["report"]
        assert (report["stored"], report["skipped"]) == (4, 1)
        reasons = [(i["location"], i["reason"]) for i in report["issues"]]
        assert ("row 5", "no story text") in reasons
        assert any(loc == "row 4" and "outside 0-1" in why for loc, why in reasons)

        signifiers = project.get("/signifiers").json()["signifiers"]
        assert {s["key"]: s["kind"] for s in signifiers} == {
            "what_mattered_most_was": "triad",
            "decisions_were": "dyad",
            "place_each_topic": "stones",
            "your_role": "mcq",
            "this_made_you_feel_pick_up_to_3": "mcq",
            "anything_else": "free_text",
        }
        stored = {n["external_id"]: n for n in project.get("/narratives").json()["items"]}
        assert set(stored) == {"frag-001", "frag-002", "frag-003", "frag-005"}
        first = stored["frag-001"]
        assert first["title"] == "Staying late"
        assert first["signifiers"]["what_mattered_most_was"] == pytest.approx([0.5, 0.3, 0.2])
        assert first["signifiers"]["decisions_were"] == 0.25
        assert first["signifiers"]["place_each_topic"] == {"staffing": {"x": 0.2, "y": 0.9}}
        assert first["signifiers"]["this_made_you_feel_pick_up_to_3"] == ["proud", "hopeful"]
        # "not applicable" is stored as such, never as a number
        second = stored["frag-002"]["signifiers"]
        assert second["what_mattered_most_was"] is None
        with Session(engine) as session:
            na = session.scalars(
                select(SignifierValue.not_applicable)
                .join(Signifier, Signifier.id == SignifierValue.signifier_id)
                .join(Narrative, Narrative.id == SignifierValue.narrative_id)
                .where(
                    Signifier.key == "what_mattered_most_was",
                    Narrative.external_id == "frag-002",
                )
            ).one()
        assert na is True

    def test_data_without_definition_fails_clearly(self, project: ProjectHandle) -> None:
        job = upload_and_wait(project, {"file": self._files()["file"]})
        assert job["status"] == "failed"
        assert "definition" in job["error"]

    def test_signifier_import_route(self, project: ProjectHandle) -> None:
        response = project.client.post(
            project.url("/signifiers/import"),
            files={"file": self._files()["definition"]},
            headers=auth(project.admin_key),
        )
        assert response.status_code == 200, response.text
        keys = [s["key"] for s in response.json()["signifiers"]]
        assert keys[0] == "what_mattered_most_was" and len(keys) == 6
        assert len(project.get("/signifiers").json()["signifiers"]) == 6
        bad = project.client.post(
            project.url("/signifiers/import"),
            files={"file": ("x.json", b'{"hello": 1}')},
            headers=auth(project.admin_key),
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


class TestPolis:
    COMMENTS = (
        b"timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        b"1717000000,x,0,1,2,1,1,Buses should run later on weekdays.\n"
        b"1717000100,x,1,2,1,2,1,Parking near the clinic is too expensive.\n"
        b"1717000200,x,2,3,0,0,-1,Spam spam spam\n"
    )
    VOTES = (
        b"timestamp,datetime,comment-id,voter-id,vote\n"
        b"1717000300,x,0,1,1\n"
        b"1717000301,x,0,2,1\n"
        b"1717000302,x,0,3,-1\n"
        b"1717000303,x,1,1,-1\n"
        b"1717000304,x,1,3,0\n"
    )

    def test_comments_and_vote_tallies(self, project: ProjectHandle, engine: Engine) -> None:
        job = upload_and_wait(
            project,
            {"file": ("comments.csv", self.COMMENTS), "votes": ("votes.csv", self.VOTES)},
        )
        assert job["status"] == "succeeded", job
        assert job["result"]["report"]["skipped"] == 1  # rejected by the moderator
        assert texts(project) == [
            "Buses should run later on weekdays.",
            "Parking near the clinic is too expensive.",
        ]
        with Session(engine) as session:
            tallies = {
                (text, t.group_key): (t.agree, t.disagree, t.passed)
                for t, text in session.execute(
                    select(VoteTally, Narrative.text).join(
                        Narrative, Narrative.id == VoteTally.narrative_id
                    )
                )
            }
        assert tallies == {
            ("Buses should run later on weekdays.", "all"): (2, 1, 0),
            ("Parking near the clinic is too expensive.", "all"): (0, 1, 1),
        }


class TestProgress:
    def test_progress_is_reported_per_chunk(
        self, project: ProjectHandle, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
        monkeypatch.setattr(settings, "ingest_chunk_size", 2)
        seen: list[tuple[int, int | None]] = []
        original = JobContext.progress

        def recording(self: JobContext, done: int, total: int | None = None) -> None:
            if self.kind == "ingest":
                seen.append((done, total))
            original(self, done, total)

        monkeypatch.setattr(JobContext, "progress", recording)
        rows = "id,story\n" + "".join(f"{i},Story number {i}\n" for i in range(5))
        job = upload_and_wait(project, {"file": ("five.csv", rows.encode())})
        assert job["status"] == "succeeded"
        # rows read, chunk by chunk; the total is known once the file has been read
        assert seen == [(0, None), (2, None), (4, None), (5, 5)]
        assert (job["progress_done"], job["progress_total"]) == (5, 5)
        assert job["started_at"] and job["finished_at"]


def progress_when_settled(project: ProjectHandle, source_id: int) -> dict[str, Any]:
    """Poll an upload as a client does until its progress is done or failed."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = project.get(f"/uploads/{source_id}").json()
        if body["progress"]["stage"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body["progress"]
        time.sleep(0.05)


def stage_counts(progress: dict[str, Any]) -> dict[str, tuple[str, int | None, int | None]]:
    return {s["name"]: (s["status"], s["done"], s["total"]) for s in progress["stages"]}


class TestUploadProgress:
    def test_stages_through_ingest_embedding_and_placing(
        self, project: ProjectHandle, embedder: CountingEmbedder
    ) -> None:
        accepted = upload(project, {"file": ("stories.csv", STORIES_CSV)})
        assert accepted.status_code == 202
        first = accepted.json()["source"]["progress"]
        assert [s["name"] for s in first["stages"]] == ["parse", "store", "embed", "place"]
        assert first["stage"] in ("parse", "store", "embed", "place")
        body = progress_when_settled(project, accepted.json()["source"]["id"])
        progress = body["progress"]
        assert progress["stage"] == "done" and progress["error"] is None
        counts = stage_counts(progress)
        # 3 records read (the row with no text is skipped), 3 stored, 3 embedded, no themes
        assert counts == {
            "parse": ("done", 3, 3),
            "store": ("done", 3, 3),
            "embed": ("done", 3, 3),
            "place": ("skipped", 0, 0),
        }
        place = progress["stages"][3]
        assert "no themes yet" in place["note"]
        ingest_job = project.client.get(
            f"/v1/jobs/{body['job_id']}", headers=auth(project.admin_key)
        ).json()
        embed_id = ingest_job["result"]["embed_job_id"]
        assert progress["stages"][2]["job_ids"] == [embed_id]
        assert progress["stages"][0]["job_ids"] == [body["job_id"]]

        analysis = project.post("/analyses", {})
        assert analysis.status_code == 202
        job = wait_for_job(project.client, project.admin_key, analysis.json()["job"]["id"], 60)
        assert job["status"] == "succeeded"
        more = (
            b"id,story\n"
            b"m-1,The discharge lounge opened at seven and the beds freed up early.\n"
            b"m-2,Pharmacy sent the take-home drugs to the ward before lunch.\n"
        )
        second = upload(project, {"file": ("more.csv", more)}).json()["source"]["id"]
        progress = progress_when_settled(project, second)["progress"]
        assert stage_counts(progress) == {
            "parse": ("done", 2, 2),
            "store": ("done", 2, 2),
            "embed": ("done", 2, 2),
            "place": ("done", 2, 2),
        }
        assert progress["placed_into_analysis_id"] == analysis.json()["analysis"]["id"]
        assert progress["stage"] == "done"

    def test_a_refused_file_is_failed_with_its_error(self, project: ProjectHandle) -> None:
        accepted = upload(project, {"file": ("empty.csv", b"")}).json()
        body = progress_when_settled(project, accepted["source"]["id"])
        progress = body["progress"]
        assert progress["stage"] == "failed"
        assert progress["error"] == body["error"] and progress["error"]
        counts = stage_counts(progress)
        assert counts["parse"][0] == "failed"
        assert [counts[name][0] for name in ("store", "embed", "place")] == ["waiting"] * 3

    def test_a_file_already_stored_needs_no_embedding(self, project: ProjectHandle) -> None:
        upload_and_wait(project, {"file": ("stories.csv", STORIES_CSV)})
        # the same rows in other bytes: every row is a duplicate
        again = STORIES_CSV.replace(b"\n", b"\r\n")
        source_id = upload(project, {"file": ("again.csv", again)}).json()["source"]["id"]
        progress = progress_when_settled(project, source_id)["progress"]
        assert progress["stage"] == "done"
        counts = stage_counts(progress)
        assert counts["store"] == ("done", 3, 3)  # all three reached the store: duplicates
        assert counts["embed"] == counts["place"] == ("skipped", 0, 0)

    def test_a_json_batch_is_untracked(self, project: ProjectHandle, engine: Engine) -> None:
        project.post("/narratives", {"narratives": [{"text": "A story posted as JSON."}]})
        with Session(engine) as session:
            source_id = session.scalars(select(Source.id)).one()
        progress = project.get(f"/uploads/{source_id}").json()["progress"]
        assert progress["stage"] == "done"
        assert {s["status"] for s in progress["stages"]} == {"untracked"}

    def test_uploads_sharing_one_embedding_job_show_its_counts(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        """Debounced: two uploads stored while the embedding job waited both follow it."""
        with Session(engine) as session:  # nothing is committed: closing rolls it back
            embed = Job(kind="embed", project_id=project.id, status=JobStatus.queued)
            session.add(embed)
            session.flush()
            sources = []
            for n, name in enumerate(("a.csv", "b.csv"), start=1):
                ingest = Job(
                    kind="ingest",
                    project_id=project.id,
                    status=JobStatus.succeeded,
                    progress_done=n,
                    progress_total=n,
                    result={"embed_job_id": embed.id},
                )
                session.add(ingest)
                session.flush()
                source = Source(
                    project_id=project.id,
                    kind="file",
                    filename=name,
                    sha256=name * 8,
                    status=SourceStatus.stored,
                    job_id=ingest.id,
                    report={"records": n, "stored": n, "duplicates": 0},
                )
                session.add(source)
                sources.append(source)
            session.flush()

            def embed_and_place() -> list[tuple[str, str, str, int | None, int | None]]:
                found = []
                for source in sources:
                    progress = upload_progress.progress(session, source)
                    embed_stage, place = progress.stages[2], progress.stages[3]
                    assert embed_stage.job_ids == [embed.id]
                    found.append(
                        (
                            progress.stage,
                            embed_stage.status,
                            place.status,
                            *(embed_stage.done, embed_stage.total),
                        )
                    )
                return found

            assert embed_and_place() == [("embed", "waiting", "waiting", 0, None)] * 2
            embed.status, embed.progress_total, embed.progress_done = JobStatus.running, 3, 1
            assert embed_and_place() == [("embed", "running", "waiting", 1, 3)] * 2
            embed.progress_done = 3
            assert embed_and_place() == [("place", "done", "running", 3, 3)] * 2
            embed.status = JobStatus.succeeded
            embed.result = {"embedded": 3, "incremental": {"analysis_id": 7, "placed": 3}}
            assert embed_and_place() == [("done", "done", "done", 3, 3)] * 2
            embed.status, embed.progress_done, embed.error = JobStatus.failed, 1, "MemoryError"
            progress = upload_progress.progress(session, sources[0])
            assert progress.stage == "failed" and "MemoryError" in (progress.error or "")
            assert progress.stages[2].status == "failed"
