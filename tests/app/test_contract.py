"""The API's contract with careless and hostile clients: bounded ids and dates, refused
non-numbers and invisible text, no id probing through a batch, errors declared in the
OpenAPI, `Allow` on 405, and no lax coercion where a client is surely wrong."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from models import Narrative
from pipelines.ingest.guards import INVISIBLE_TEXT, NON_FINITE, OUT_OF_RANGE, TOO_DEEP
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job
from tests.ui.helpers import sign_in

BIG = 2**63  # one past the largest integer a database column holds
PROBLEM = "application/problem+json"
NOT_PARAMETERS = {("/tensions", "source_id"), ("/tensions", "session_id"), ("/trends", "offset")}
EARLY, LATE = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"


@pytest.fixture
def lenient(client: TestClient) -> TestClient:
    # a 500 must show as a 500 here, not as an exception raised into the test
    return TestClient(client.app, raise_server_exceptions=False)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Narrative)) or 0)


def _one(fields: str) -> str:
    """A batch of one narrative written by hand: `fields` is JSON text, NaN and all."""
    return '{"narratives": [{"text": "x", ' + fields + "}]}"


def _post_raw(client: TestClient, project: ProjectHandle, body: str) -> Any:
    headers = {**auth(project.admin_key), "content-type": "application/json"}
    return client.post(project.url("/narratives"), content=body, headers=headers)


class TestIntegerBounds:
    @pytest.mark.parametrize(
        "path",
        [
            f"/narratives/{BIG}",
            f"/narratives/{BIG}/similar",
            f"/uploads/{BIG}",
            f"/sessions/{BIG}",
            f"/analyses/{BIG}",
            f"/narratives/-{BIG + 1}",
        ],
    )
    def test_an_id_past_64_bits_in_a_path_is_422(
        self, lenient: TestClient, project: ProjectHandle, path: str
    ) -> None:
        response = lenient.get(project.url(path), headers=auth(project.admin_key))
        body = _problem(response, 422)
        assert "less than or equal to 9223372036854775807" in body["detail"] or (
            "greater than or equal to 1" in body["detail"]
        )

    @pytest.mark.parametrize(
        ("route", "name"),
        [
            (route, name)
            for route in ("/narratives", "/themes", "/tensions", "/trends")
            for name in ("offset", "source_id", "session_id")
            if (route, name) not in NOT_PARAMETERS
        ],
    )
    def test_a_query_integer_past_64_bits_is_422_once_results_exist(
        self, lenient: TestClient, analysed: ProjectHandle, route: str, name: str
    ) -> None:
        params = {name: str(BIG), "by": "session"}
        response = lenient.get(analysed.url(route), params=params, headers=auth(analysed.admin_key))
        body = _problem(response, 422)
        assert body["errors"][0]["field"] == name

    def test_a_session_id_past_64_bits_in_a_batch_is_422_and_nothing_is_stored(
        self, lenient: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        response = project.post("/narratives", {"narratives": [{"text": "x", "session_id": BIG}]})
        body = _problem(response, 422)
        assert body["errors"][0] == {
            "index": 0,
            "field": "session_id",
            "message": "Input should be less than or equal to 9223372036854775807",
        }
        assert _count(engine) == 0

    def test_the_dashboard_refuses_the_same_ids(
        self, lenient: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(lenient, project.admin_key)
        base = f"/ui/api/p/{project.id}"
        for path in (f"{base}/map/snippet/{BIG}", f"{base}/uploads/{BIG}"):
            _problem(lenient.get(path), 422)
        page = lenient.get(f"/ui/p/{project.id}/narratives/{BIG}")
        assert page.status_code == 422 and "text/html" in page.headers["content-type"]
        # the map's filters are form fields read by hand
        for params in ({"session_id": str(BIG)}, {"since": "0001-01-01"}, {"until": "9999-12-31"}):
            _problem(lenient.get(f"{base}/map/points", params=params), 422)

    def test_the_signifier_explorer_refuses_ids_past_64_bits(
        self, lenient: TestClient, project: ProjectHandle
    ) -> None:
        declared = {"signifiers": [{"key": "t", "kind": "triad", "anchors": ["a", "b", "c"]}]}
        assert project.post("/signifiers", declared).status_code == 200
        token = sign_in(lenient, project.admin_key)
        bodies = [{"a": {"region": {"signifier": "t", "ids": [BIG]}}}, {"a": {"session_id": BIG}}]
        for body in bodies:
            for endpoint in ("selection", "compare"):
                response = lenient.post(
                    f"/ui/api/p/{project.id}/signifiers/{endpoint}",
                    json=body,
                    headers={"X-CSRF-Token": token},
                )
                _problem(response, 422)


class TestDates:
    @pytest.mark.parametrize("moment", [EARLY, LATE])
    def test_an_edge_date_in_a_batch_is_422_in_the_shared_words(
        self, lenient: TestClient, project: ProjectHandle, engine: Engine, moment: str
    ) -> None:
        response = project.post(
            "/narratives", {"narratives": [{"text": "x", "occurred_at": moment}]}
        )
        body = _problem(response, 422)
        assert body["errors"][0]["message"] == f"occurred_at {OUT_OF_RANGE}"
        assert _count(engine) == 0

    @pytest.mark.parametrize("name", ["since", "until"])
    @pytest.mark.parametrize("route", ["/narratives", "/themes", "/trends"])
    def test_an_edge_date_in_a_filter_is_422(
        self, lenient: TestClient, analysed: ProjectHandle, name: str, route: str
    ) -> None:
        for moment in (EARLY, LATE):
            params = {name: moment, "by": "session"}
            response = lenient.get(
                analysed.url(route), params=params, headers=auth(analysed.admin_key)
            )
            assert OUT_OF_RANGE in _problem(response, 422)["detail"]

    @pytest.mark.parametrize("moment", [0, 1_700_000_000, "0", "2026", 1.5, True])
    def test_a_number_is_not_read_as_a_unix_time(
        self, project: ProjectHandle, engine: Engine, moment: Any
    ) -> None:
        response = project.post(
            "/narratives", {"narratives": [{"text": "x", "occurred_at": moment}]}
        )
        assert "ISO 8601" in _problem(response, 422)["detail"]
        assert _count(engine) == 0

    def test_a_date_and_a_time_in_iso_8601_still_work(self, project: ProjectHandle) -> None:
        items = [
            {"text": "a", "occurred_at": "2026-03-02"},
            {"text": "b", "occurred_at": "2026-03-02T09:30:00+01:00"},
        ]
        assert project.post("/narratives", {"narratives": items}).status_code == 201
        assert project.get("/narratives", since="2026-03-01T23:00:00Z").json()["total"] == 2


class TestNonNumbersAndInvisibleText:
    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309"])
    def test_a_non_finite_attribute_is_refused_with_the_shared_words(
        self, client: TestClient, project: ProjectHandle, engine: Engine, literal: str
    ) -> None:
        body = _one('"attributes": {"age": ' + literal + "}")
        problem = _problem(_post_raw(client, project, body), 422)
        assert problem["errors"][0]["message"] == f"attribute 'age' {NON_FINITE}"
        assert _count(engine) == 0

    @pytest.mark.parametrize("literal", ["NaN", "1e309", "[0.2, NaN, 0.3]", '{"a": {"x": NaN}}'])
    def test_a_non_finite_signifier_value_is_refused(
        self, client: TestClient, project: ProjectHandle, engine: Engine, literal: str
    ) -> None:
        project.post(
            "/signifiers",
            {"signifiers": [{"key": "mood", "kind": "free_text"}]},
        )
        body = _one('"signifiers": {"mood": ' + literal + "}")
        problem = _problem(_post_raw(client, project, body), 422)
        assert NON_FINITE in problem["errors"][0]["message"]
        assert _count(engine) == 0

    @pytest.mark.parametrize("text", ["\u200b\u200b", "\u200b \ufeff\u2060", "\u00ad"])
    def test_text_of_zero_width_characters_only_is_refused(
        self, project: ProjectHandle, engine: Engine, text: str
    ) -> None:
        problem = _problem(project.post("/narratives", {"narratives": [{"text": text}]}), 422)
        assert problem["errors"][0] == {
            "index": 0,
            "field": "text",
            "message": f"text {INVISIBLE_TEXT}",
        }
        assert _count(engine) == 0

    @pytest.mark.parametrize("depth", [40, 900, 10_000])
    def test_a_deeply_nested_body_is_a_4xx(
        self, lenient: TestClient, project: ProjectHandle, engine: Engine, depth: int
    ) -> None:
        nested = "[" * depth + "]" * depth
        body = _one('"signifiers": {"mood": ' + nested + "}")
        headers = {**auth(project.admin_key), "content-type": "application/json"}
        response = lenient.post(project.url("/narratives"), content=body, headers=headers)
        assert TOO_DEEP in _problem(response, 422)["detail"]
        assert _count(engine) == 0

    def test_session_attributes_refuse_non_numbers_too(self, project: ProjectHandle) -> None:
        response = project.client.post(
            project.url("/sessions"),
            files={"file": ("chat.txt", b"09:00:01 From  Ada  to  Everyone:\n\thello\n")},
            data={"name": "m", "attributes": '{"group": NaN}'},
            headers=auth(project.admin_key),
        )
        assert NON_FINITE in _problem(response, 422)["detail"]


class TestForeignSessions:
    def test_another_projects_session_and_a_missing_one_get_the_same_answer(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        other = make_project(client, "Other")
        session_id = _chat_session(other)
        answers = []
        for wanted in (session_id, session_id + 1000):
            response = project.post(
                "/narratives", {"narratives": [{"text": "x", "session_id": wanted}]}
            )
            body = _problem(response, 422)
            answers.append(body["errors"][0]["message"].replace(f"session {wanted} ", "session N "))
        assert answers[0] == answers[1]
        assert "not a session of this project" in answers[0]
        with engine.connect() as conn:
            foreign = conn.scalar(
                select(func.count())
                .select_from(Narrative)
                .where(Narrative.project_id == project.id)
            )
        assert foreign == 0

    def test_the_projects_own_session_is_accepted(self, project: ProjectHandle) -> None:
        session_id = _chat_session(project)
        response = project.post(
            "/narratives", {"narratives": [{"text": "later", "session_id": session_id}]}
        )
        assert response.status_code == 201, response.text
        stored = project.get(f"/narratives/{response.json()['narrative_ids'][0]}").json()
        assert stored["session_id"] == session_id


class TestOpenApi:
    def test_every_operation_declares_problem_answers(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        problem = schema["components"]["schemas"]["Problem"]
        assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
        assert "HTTPValidationError" not in schema["components"]["schemas"]
        operations = [
            (path, method, op)
            for path, item in schema["paths"].items()
            for method, op in item.items()
        ]
        assert len(operations) >= 25
        for path, method, op in operations:
            for status in ("422", "4XX"):
                content = op["responses"][status]["content"]
                assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}, (
                    path,
                    method,
                )
            if "{project_id}" in path:
                assert {"401", "403", "404"} <= set(op["responses"]), (path, method)

    def test_routes_added_after_the_app_is_built_are_declared_too(self, client: TestClient) -> None:
        from fastapi import APIRouter

        late = APIRouter()

        @late.get("/v1/late/{thing}")
        def late_route(thing: int) -> dict[str, int]:
            return {"thing": thing}

        client.app.include_router(late)  # type: ignore[attr-defined]
        client.app.openapi_schema = None  # type: ignore[attr-defined]
        schema = client.get("/openapi.json").json()
        assert "422" in schema["paths"]["/v1/late/{thing}"]["get"]["responses"]
        assert PROBLEM in schema["paths"]["/v1/late/{thing}"]["get"]["responses"]["4XX"]["content"]


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("PUT", "/narratives", "GET, POST"),
            ("DELETE", "/themes", "GET"),
            ("PATCH", "/signifiers", "GET, POST"),
        ],
    )
    def test_405_names_every_method_the_path_answers(
        self, client: TestClient, project: ProjectHandle, method: str, path: str, allowed: str
    ) -> None:
        response = client.request(method, project.url(path), headers=auth(project.admin_key))
        body = _problem(response, 405)
        assert response.headers["allow"] == allowed
        assert allowed in body["detail"]


class TestStrictness:
    @pytest.mark.parametrize(
        "body",
        [
            {"keep_level": 0},
            {"keep_level": "no"},
            {"include_low_content": 1},
            {"n_themes": "5"},
            {"seed": "3"},
            {"seed": True},
            {"n_themes": 5.0},
        ],
    )
    def test_an_analysis_request_of_the_wrong_types_is_422(
        self, project: ProjectHandle, body: dict[str, Any]
    ) -> None:
        response = project.post("/analyses", body)
        field = next(iter(body))
        assert _problem(response, 422)["errors"][0]["field"] == field

    def test_mcq_multiple_must_be_a_boolean(self, project: ProjectHandle) -> None:
        declared = {"key": "q", "kind": "mcq", "options": [{"key": "a"}], "multiple": 1}
        response = project.post("/signifiers", {"signifiers": [declared]})
        assert _problem(response, 422)["errors"][0]["field"].endswith("multiple")

    @pytest.mark.parametrize("field", ["keep_author_names", "keep_chat_files"])
    def test_a_project_setting_given_as_a_number_is_422(
        self, client: TestClient, field: str
    ) -> None:
        # 1 would keep real names (or chat files) without anyone having written true
        response = client.post("/v1/projects", json={"name": "Strict", field: 1})
        assert _problem(response, 422)["errors"][0]["field"] == field

    def test_a_session_id_given_as_text_is_422(self, project: ProjectHandle) -> None:
        response = project.post("/narratives", {"narratives": [{"text": "x", "session_id": "1"}]})
        assert _problem(response, 422)["errors"][0]["field"] == "session_id"

    def test_query_conveniences_stay(self, project: ProjectHandle) -> None:
        # query strings are text: flagged_only=1 and limit=5 are how clients write them
        assert project.get("/tensions", flagged_only="1", limit="5").status_code == 200


class TestBodyProblems:
    def test_a_body_that_is_not_json_is_415(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        headers = {**auth(project.admin_key), "content-type": "text/plain"}
        response = client.post(
            project.url("/narratives"), content=b'{"narratives": []}', headers=headers
        )
        assert "application/json" in _problem(response, 415)["detail"]

    def test_broken_json_says_where(self, client: TestClient, project: ProjectHandle) -> None:
        body = _problem(_post_raw(client, project, '{"narratives": [{"text": "x"'), 422)
        assert body["detail"].startswith("the body is not valid JSON")
        assert "character 28" in body["detail"]

    def test_a_number_of_thousands_of_digits_is_a_400(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        body = _one('"attributes": {"n": ' + "9" * 5000 + "}")
        problem = _problem(_post_raw(client, project, body), 400)
        assert "4300 digits" in problem["detail"]


@pytest.fixture
def analysed(client: TestClient, project: ProjectHandle) -> ProjectHandle:
    """A project with a finished analysis, so result routes reach their queries."""
    items = [
        {
            "text": f"story {i} about {'beds' if i % 2 else 'rotas'} and waiting",
            "external_id": str(i),
        }
        for i in range(24)
    ]
    assert project.post("/narratives", {"narratives": items}).status_code == 201
    queued = project.post("/analyses", {"seed": 0})
    assert queued.status_code == 202, queued.text
    assert (
        wait_for_job(client, project.admin_key, queued.json()["job"]["id"])["status"] == "succeeded"
    )
    return project


def _chat_session(project: ProjectHandle) -> int:
    """A session of `project` from a one-line Zoom chat, parsed to its end."""
    chat = b"09:00:01 From  Ada  to  Everyone:\n\tWe met every morning.\n"
    response = project.client.post(
        project.url("/sessions"),
        files={"file": ("meeting_saved_chat.txt", chat)},
        data={"name": "Week 1", "held_on": "2026-03-02"},
        headers=auth(project.admin_key),
    )
    assert response.status_code == 202, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    return int(response.json()["session"]["id"])
