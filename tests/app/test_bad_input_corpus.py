"""A corpus of bad input, kept as tests: each case is answered with its 4xx as
`application/problem+json` with a detail saying what to fix, and stores nothing (the rows
of narratives, sources, sessions and jobs are counted before and after).

The table of cases and answers is written to WEFT_CORPUS_REPORT (default:
.screenshots/bad-input-corpus.md) when the module has run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from models import Job, MeetingSession, Narrative, Source
from pipelines.ingest.guards import INVISIBLE_TEXT, NON_FINITE, OUT_OF_RANGE, TOO_DEEP
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

BIG = 2**63
EARLY, LATE = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"
ROOT = Path(__file__).resolve().parents[2]
CHAT = b"10:00:05\t From  Ana Duarte : Welcome back; today we review the rule.\n"


@dataclass
class World:
    """What a case may point at: the project, an existing narrative, another project."""

    client: TestClient
    project: ProjectHandle
    narrative_id: int
    _other: ProjectHandle | None = None
    _foreign_session: int | None = None

    @property
    def other(self) -> ProjectHandle:
        if self._other is None:
            self._other = make_project(self.client, "Another project")
        return self._other

    @property
    def foreign_session(self) -> int:
        """A session of another project, parsed to its end."""
        if self._foreign_session is None:
            other = self.other
            answer = other.client.post(
                other.url("/sessions"),
                files={"file": ("meeting_saved_chat.txt", CHAT)},
                data={"name": "Theirs"},
                headers=auth(other.admin_key),
            ).json()
            wait_for_job(self.client, other.admin_key, answer["job"]["id"])
            self._foreign_session = int(answer["session"]["id"])
        return self._foreign_session


@dataclass(frozen=True)
class Case:
    name: str
    area: str
    method: str
    path: str
    status: int
    #: words the detail must hold
    says: str
    #: the request's keyword arguments for TestClient.request, given the world
    request: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    #: None: the project's admin key; else a function giving the headers
    headers: Callable[[World], dict[str, str]] | None = None


def batch(**fields: Any) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"json": {"narratives": [{"text": "A story.", **fields}]}}


def raw(text: str, content_type: str = "application/json") -> Callable[[World], dict[str, Any]]:
    return lambda w: {"content": text, "headers": {"content-type": content_type}}


def one(fields: str) -> str:
    return '{"narratives": [{"text": "A story.", ' + fields + "}]}"


def form(files: dict[str, Any] | None = None, **data: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"files": files or {"file": ("s.csv", b"text\nA story\n")}, "data": data}


def query(**params: Any) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"params": params}


N = "/narratives"
DEEP = "[" * 10_000 + "]" * 10_000

CASES = [
    # --- JSON body -------------------------------------------------------------------
    Case(
        "session_id past 2^63-1",
        "body",
        "POST",
        N,
        422,
        "less than or equal to",
        batch(session_id=BIG),
    ),
    Case(
        "session_id below -2^63",
        "body",
        "POST",
        N,
        422,
        "greater than or equal to 1",
        batch(session_id=-BIG - 1),
    ),
    Case(
        "session_id of another project",
        "body",
        "POST",
        N,
        422,
        "not a session of this project",
        lambda w: batch(session_id=w.foreign_session)(w),
    ),
    Case(
        "session_id that does not exist",
        "body",
        "POST",
        N,
        422,
        "not a session of this project",
        batch(session_id=987654),
    ),
    Case("session_id as text", "body", "POST", N, 422, "valid integer", batch(session_id="1")),
    Case(
        "occurred_at in year 1 (+01:00)",
        "body",
        "POST",
        N,
        422,
        OUT_OF_RANGE,
        batch(occurred_at=EARLY),
    ),
    Case(
        "occurred_at in year 9999 (-01:00)",
        "body",
        "POST",
        N,
        422,
        OUT_OF_RANGE,
        batch(occurred_at=LATE),
    ),
    Case("occurred_at as the number 0", "body", "POST", N, 422, "ISO 8601", batch(occurred_at=0)),
    Case(
        "occurred_at as the text '2026'",
        "body",
        "POST",
        N,
        422,
        "ISO 8601",
        batch(occurred_at="2026"),
    ),
    Case(
        "occurred_at not a date",
        "body",
        "POST",
        N,
        422,
        "datetime",
        batch(occurred_at="last Tuesday"),
    ),
    Case(
        "attribute NaN", "body", "POST", N, 422, NON_FINITE, raw(one('"attributes": {"age": NaN}'))
    ),
    Case(
        "attribute Infinity",
        "body",
        "POST",
        N,
        422,
        NON_FINITE,
        raw(one('"attributes": {"age": Infinity}')),
    ),
    Case(
        "attribute 1e309",
        "body",
        "POST",
        N,
        422,
        NON_FINITE,
        raw(one('"attributes": {"age": 1e309}')),
    ),
    Case(
        "signifier value NaN",
        "body",
        "POST",
        N,
        422,
        NON_FINITE,
        raw(one('"signifiers": {"steer": NaN}')),
    ),
    Case(
        "signifier triad with -Infinity",
        "body",
        "POST",
        N,
        422,
        NON_FINITE,
        raw(one('"signifiers": {"steer": [0.5, -Infinity, 0.5]}')),
    ),
    Case(
        "text of zero-width characters",
        "body",
        "POST",
        N,
        422,
        INVISIBLE_TEXT,
        batch(text="\u200b\u200c\u2060"),
    ),
    Case("text empty", "body", "POST", N, 422, "at least 1 character", batch(text="")),
    Case(
        "text over the length limit",
        "body",
        "POST",
        N,
        422,
        "over the limit",
        batch(text="a" * 20_001),
    ),
    Case("text a number", "body", "POST", N, 422, "valid string", batch(text=42)),
    Case(
        "signifiers nested 40 deep",
        "body",
        "POST",
        N,
        422,
        TOO_DEEP,
        raw(one('"signifiers": {"steer": ' + "[" * 40 + "]" * 40 + "}")),
    ),
    Case(
        "body nested 10,000 deep",
        "body",
        "POST",
        N,
        422,
        TOO_DEEP,
        raw(one('"signifiers": {"steer": ' + DEEP + "}")),
    ),
    Case("unknown field", "body", "POST", N, 422, "Extra inputs", batch(colour="red")),
    Case(
        "attributes a list", "body", "POST", N, 422, "valid dictionary", batch(attributes=["nurse"])
    ),
    Case(
        "empty batch",
        "body",
        "POST",
        N,
        422,
        "at least 1 item",
        lambda w: {"json": {"narratives": []}},
    ),
    Case(
        "batch not a list",
        "body",
        "POST",
        N,
        422,
        "valid list",
        lambda w: {"json": {"narratives": "x"}},
    ),
    Case(
        "body a JSON array",
        "body",
        "POST",
        N,
        422,
        "valid dictionary",
        lambda w: {"json": [{"text": "x"}]},
    ),
    Case(
        "batch over 10,000 items",
        "body",
        "POST",
        N,
        422,
        "at most 10000",
        lambda w: {"json": {"narratives": [{"text": f"s{i}"} for i in range(10_001)]}},
    ),
    Case(
        "broken JSON", "body", "POST", N, 422, "not valid JSON", raw('{"narratives": [{"text": "x"')
    ),
    Case(
        "number of 5,000 digits",
        "body",
        "POST",
        N,
        400,
        "4300 digits",
        raw(one('"attributes": {"n": ' + "9" * 5000 + "}")),
    ),
    Case(
        "JSON sent as text/plain",
        "body",
        "POST",
        N,
        415,
        "application/json",
        raw(one('"title": "t"'), "text/plain"),
    ),
    Case("no body", "body", "POST", N, 422, "Field required"),
    Case(
        "analysis keep_level 0",
        "body",
        "POST",
        "/analyses",
        422,
        "valid boolean",
        lambda w: {"json": {"keep_level": 0}},
    ),
    Case(
        "analysis n_themes as text",
        "body",
        "POST",
        "/analyses",
        422,
        "valid integer",
        lambda w: {"json": {"n_themes": "5"}},
    ),
    Case(
        "analysis seed past 2^31-1",
        "body",
        "POST",
        "/analyses",
        422,
        "less than or equal",
        lambda w: {"json": {"seed": 2**31}},
    ),
    Case(
        "signifier dyad with 3 poles",
        "body",
        "POST",
        "/signifiers",
        422,
        "exactly 2 poles",
        lambda w: {
            "json": {"signifiers": [{"key": "d", "kind": "dyad", "poles": ["a", "b", "c"]}]}
        },
    ),
    Case(
        "mcq multiple as 1",
        "body",
        "POST",
        "/signifiers",
        422,
        "valid boolean",
        lambda w: {
            "json": {
                "signifiers": [
                    {"key": "q", "kind": "mcq", "options": [{"key": "a"}], "multiple": 1}
                ]
            }
        },
    ),
    # --- query -----------------------------------------------------------------------
    Case(
        "offset past 2^63-1",
        "query",
        "GET",
        N,
        422,
        "less than or equal to",
        query(offset=str(BIG)),
    ),
    Case(
        "limit of 100,000",
        "query",
        "GET",
        N,
        422,
        "less than or equal to 1000",
        query(limit=100_000),
    ),
    Case(
        "source_id past 2^63-1",
        "query",
        "GET",
        "/themes",
        422,
        "less than or equal to",
        query(source_id=str(BIG)),
    ),
    Case(
        "session_id not a number", "query", "GET", N, 422, "valid integer", query(session_id="abc")
    ),
    Case("since in year 1", "query", "GET", N, 422, OUT_OF_RANGE, query(since=EARLY)),
    Case("until in year 9999", "query", "GET", "/themes", 422, OUT_OF_RANGE, query(until=LATE)),
    Case(
        "since as a Unix time",
        "query",
        "GET",
        "/trends",
        422,
        "ISO 8601",
        query(since="0", by="session"),
    ),
    Case(
        "attribute filter without a colon",
        "query",
        "GET",
        N,
        422,
        "key:value",
        query(attribute="nurse"),
    ),
    Case(
        "trends by an unknown dimension",
        "query",
        "GET",
        "/trends",
        422,
        "not understood",
        query(by="colour"),
    ),
    Case(
        "tensions min_strength NaN",
        "query",
        "GET",
        "/tensions",
        422,
        "finite number",
        query(min_strength="nan"),
    ),
    # --- path ------------------------------------------------------------------------
    Case("narrative id past 2^63-1", "path", "GET", f"{N}/{BIG}", 422, "less than or equal to"),
    Case(
        "similar to an id past 2^63-1",
        "path",
        "GET",
        f"{N}/{BIG}/similar",
        422,
        "less than or equal to",
    ),
    Case("upload id 0", "path", "GET", "/uploads/0", 422, "greater than or equal to 1"),
    Case("session id past 2^63-1", "path", "GET", f"/sessions/{BIG}", 422, "less than or equal to"),
    Case("analysis id -1", "path", "GET", "/analyses/-1", 422, "greater than or equal to 1"),
    Case("another project's session by id", "path", "GET", "/sessions/{foreign}", 404, "not found"),
    Case("narrative id not a number", "path", "GET", f"{N}/abc", 422, "valid integer"),
    # --- headers ---------------------------------------------------------------------
    Case("no API key", "headers", "GET", N, 401, "Authorization: Bearer", headers=lambda w: {}),
    Case(
        "unknown API key",
        "headers",
        "GET",
        N,
        401,
        "unknown or revoked",
        headers=lambda w: auth("weft_not-a-key"),
    ),
    Case(
        "read key writing",
        "headers",
        "POST",
        N,
        403,
        "needs a write key",
        batch(),
        headers=lambda w: auth(w.project.key("read")),
    ),
    Case(
        "another project's key",
        "headers",
        "GET",
        N,
        404,
        "not found",
        headers=lambda w: auth(w.other.admin_key),
    ),
    Case("PUT on a collection", "headers", "PUT", N, 405, "answers GET, POST"),
    # --- uploads ---------------------------------------------------------------------
    Case(
        "upload as JSON, not multipart",
        "upload",
        "POST",
        "/uploads",
        415,
        "multipart/form-data",
        lambda w: {"json": {"file": "x"}},
    ),
    Case(
        "upload without a file field",
        "upload",
        "POST",
        "/uploads",
        422,
        "unexpected file field",
        form(files={"other": ("a.csv", b"text\nx\n")}),
    ),
    Case(
        "upload with an unknown format",
        "upload",
        "POST",
        "/uploads",
        422,
        "format",
        form(format="docx"),
    ),
    Case(
        "upload with a broken mapping",
        "upload",
        "POST",
        "/uploads",
        422,
        "mapping",
        form(mapping="{not json"),
    ),
    Case(
        "upload with an unknown time zone",
        "upload",
        "POST",
        "/uploads",
        422,
        "unknown time zone",
        form(timezone="Mars/Olympus"),
    ),
    Case(
        "session attributes with NaN",
        "upload",
        "POST",
        "/sessions",
        422,
        NON_FINITE,
        form(name="m", attributes='{"group": NaN}'),
    ),
    Case(
        "session started_at in year 1",
        "upload",
        "POST",
        "/sessions",
        422,
        OUT_OF_RANGE,
        form(name="m", started_at=EARLY),
    ),
    Case("session without a name", "upload", "POST", "/sessions", 422, "name", form()),
]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: int(conn.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Narrative, Source, MeetingSession, Job)
        }


ROWS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _write_table() -> Iterator[None]:
    yield
    if not ROWS:
        return
    target = Path(
        os.environ.get("WEFT_CORPUS_REPORT") or ROOT / ".screenshots" / "bad-input-corpus.md"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "| # | area | case | answer | detail | rows before (n/src/ses/jobs) | rows after |",
        "|---|---|---|---|---|---|---|",
    ]
    target.write_text("\n".join(header + ROWS) + "\n")


@pytest.fixture
def world(client: TestClient, project: ProjectHandle) -> World:
    signifiers = {"signifiers": [{"key": "steer", "kind": "dyad", "poles": ["plan", "emerge"]}]}
    assert project.post("/signifiers", signifiers).status_code == 200
    stored = project.post("/narratives", {"narratives": [{"text": "Already here."}]})
    assert stored.status_code == 201, stored.text
    wait_for_job(client, project.admin_key, stored.json()["job"]["id"])
    lenient = TestClient(client.app, raise_server_exceptions=False)
    return World(lenient, project, stored.json()["narrative_ids"][0])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(
    case: Case, world: World, engine: Engine
) -> None:
    path = case.path
    if "{foreign}" in path:
        path = path.replace("{foreign}", str(world.foreign_session))
    kwargs = case.request(world)
    headers = auth(world.project.admin_key) if case.headers is None else case.headers(world)
    headers.update(kwargs.pop("headers", {}))
    before = _counts(engine)
    response = world.client.request(case.method, world.project.url(path), headers=headers, **kwargs)
    after = _counts(engine)
    detail = response.json().get("detail", "") if response.content else ""
    ROWS.append(
        f"| {CASES.index(case) + 1} | {case.area} | {case.name} | {response.status_code} | "
        f"{str(detail)[:110].replace('|', '/')} | {'/'.join(map(str, before.values()))} | "
        f"{'/'.join(map(str, after.values()))} |"
    )
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert case.says in detail, detail
    assert after == before
    if case.status == 405:
        assert response.headers["allow"] == "GET, POST"


def test_the_corpus_is_broad() -> None:
    assert len(CASES) >= 40
    assert {c.area for c in CASES} == {"body", "query", "path", "headers", "upload"}
