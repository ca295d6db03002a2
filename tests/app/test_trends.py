from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.schemas.trends import TrendsPage
from app.services import analyses as analysis_service
from models import MeetingSession, Project
from tests.app.test_themes import TOPICS, TopicEmbedder, analyse, topic_of
from tests.conftest import ProjectHandle, make_project, wait_for_job

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
# narratives of each topic per month: beds grows, the others shrink; parking appears in June
PLAN = {
    "beds": [3, 3, 3, 3, 8, 14],
    "staffing": [11, 11, 11, 11, 8, 5],
    "records": [10, 10, 10, 10, 8, 5],
    "parking": [0, 0, 0, 0, 0, 9],
}
PARKING = "Parking fees at the hospital went up again"


def plan_corpus(session_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Staffing stories come mostly from nurses, records stories mostly from managers; the
    rise of beds is all in the North trust."""
    items = []
    for topic, per_month in PLAN.items():
        n = 0
        for m, count in enumerate(per_month):
            for k in range(count):
                base = PARKING if topic == "parking" else TOPICS[topic][n % 3]
                if topic == "staffing":
                    role = "manager" if n % 5 == 0 else "nurse"
                elif topic == "records":
                    role = "nurse" if n % 5 == 0 else "manager"
                else:
                    role = "nurse" if n % 2 else "manager"
                trust = "North" if topic == "beds" and m >= 4 else ("North", "South")[n % 2]
                item: dict[str, Any] = {
                    "text": f"{base} (note {n})",
                    "external_id": f"{topic}-{n}",
                    "occurred_at": f"{MONTHS[m]}-{10 + k % 15:02d}T10:00:00Z",
                    "attributes": {"role": role, "trust": trust},
                }
                if session_ids is not None:
                    item["session_id"] = session_ids[m]
                items.append(item)
                n += 1
    return items


@pytest.fixture
def topic_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


def add_sessions(engine: Engine, project: ProjectHandle) -> list[int]:
    ids = []
    with engine.begin() as conn:
        # created out of order: the answer must follow the meeting dates
        for m in reversed(range(len(MONTHS))):
            ids.append(
                conn.execute(
                    insert(MeetingSession)
                    .values(
                        project_id=project.id,
                        name=f"Circle {m + 1}",
                        held_on=date(2026, m + 1, 20),
                        attributes={},
                    )
                    .returning(MeetingSession.id)
                ).scalar_one()
            )
    return ids[::-1]


def seed(project: ProjectHandle, session_ids: list[int] | None = None) -> dict[str, str]:
    """Post the corpus, analyse it, and return each theme key's topic."""
    response = project.post("/narratives", {"narratives": plan_corpus(session_ids)})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    analyse(project)
    themes = project.get("/themes").json()["themes"]
    topics = {}
    for theme in themes:
        snippet = theme["exemplars"][0]["snippet"]
        topics[theme["key"]] = "parking" if snippet.startswith("Parking") else topic_of(snippet)
    assert sorted(topics.values()) == sorted(PLAN), topics
    return topics


@pytest.fixture
def seeded(topic_client: TestClient) -> tuple[ProjectHandle, dict[str, str]]:
    project = make_project(topic_client)
    return project, seed(project)


def by_topic(body: dict[str, Any], topics: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {topics[t["key"]]: t for t in body["themes"]}


def trends(project: ProjectHandle, *by: str, **params: Any) -> dict[str, Any]:
    response = project.get("/trends", by=list(by), **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    # the answer is serialised without the response model: check it keeps to it
    assert TrendsPage.model_validate(body).model_dump(mode="json") == body
    return body


class TestTrendsByAttribute:
    def test_counts_shares_and_intervals(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, topics = seeded
        body = trends(project, "attribute:role")
        assert body["by"] == ["attribute:role"]
        assert [c["key"] for c in body["cells"]] == [["manager"], ["nurse"]]
        total = sum(sum(PLAN[t]) for t in PLAN)
        assert body["total_narratives"] == total
        assert sum(c["total"] for c in body["cells"]) == total - body["excluded"]
        assert body["excluded"] == 0
        themes = by_topic(body, topics)
        assert themes["staffing"]["count"] == sum(PLAN["staffing"])
        for theme in body["themes"]:
            assert len(theme["cells"]) == 2
            assert sum(c["count"] for c in theme["cells"]) == theme["count"]
            for cell in theme["cells"]:
                base = body["cells"][cell["cell"]]["total"]
                assert cell["share"] == pytest.approx(cell["count"] / base, abs=1e-6)
                assert cell["low"] <= cell["share"] <= cell["high"]
        # largest first
        assert [t["count"] for t in body["themes"]] == sorted(
            (t["count"] for t in body["themes"]), reverse=True
        )

    def test_distinctive_themes_per_group(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, topics = seeded
        body = trends(project, "attribute:role")
        assert [g["key"] for g in body["groups"]] == [["manager"], ["nurse"]]
        assert body["timelines"] == []
        themes = by_topic(body, topics)
        staffing = {tuple(d["group"]): d for d in themes["staffing"]["distinctive"]}
        assert staffing[("nurse",)]["status"] == "over"
        assert staffing[("manager",)]["status"] == "under"
        assert staffing[("nurse",)]["z"] > 3 and staffing[("nurse",)]["q_value"] < 0.05
        records = {tuple(d["group"]): d for d in themes["records"]["distinctive"]}
        assert records[("manager",)]["status"] == "over"
        beds = {tuple(d["group"]): d for d in themes["beds"]["distinctive"]}
        assert {d["status"] for d in beds.values()} == {"neutral"}

    def test_missing_attribute_is_excluded(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        body = trends(project, "attribute:ward")
        assert body["cells"] == [] and body["excluded"] == body["total_narratives"] > 0
        assert all(t["count"] == 0 for t in body["themes"])


class TestTrendsByPeriod:
    def test_months_with_rising_and_new_themes(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, topics = seeded
        body = trends(project, "period:month")
        assert [c["key"] for c in body["cells"]] == [[m] for m in MONTHS]
        assert body["cells"][0]["label"] == "January 2026"
        assert body["groups"] == []
        (timeline,) = body["timelines"]
        assert timeline["group"] is None and timeline["kind"] == "month"
        assert timeline["latest"] == "2026-06" and timeline["reason"] is None
        themes = by_topic(body, topics)
        beds = themes["beds"]["trends"][0]
        assert beds["status"] == "rising" and beds["q_value"] < 0.05
        assert beds["reading"].startswith(("rising since", "up in"))
        assert themes["parking"]["trends"][0]["status"] == "new"
        assert themes["parking"]["trends"][0]["reading"] == "new in June 2026 (9 narratives)"
        assert themes["staffing"]["trends"][0]["status"] in ("falling", "stable")
        series = themes["beds"]["series"][0]
        assert series["counts"] == PLAN["beds"]
        assert series["shares"][-1] == pytest.approx(14 / 33, abs=1e-6)

    @pytest.mark.parametrize(
        ("period", "keys"),
        [
            ("quarter", ["2026-Q1", "2026-Q2"]),
            ("week", None),
        ],
    )
    def test_weeks_and_quarters(
        self,
        seeded: tuple[ProjectHandle, dict[str, str]],
        period: str,
        keys: list[str] | None,
    ) -> None:
        project, _ = seeded
        body = trends(project, f"period:{period}")
        cells = [c["key"][0] for c in body["cells"]]
        if keys is not None:
            assert cells == keys
        else:
            # every ISO week from the first to the last narrative, empty ones included
            assert cells[0] == "2026-W02" and cells[-1] == "2026-W26"
            assert len(cells) == 25 and any(c["total"] == 0 for c in body["cells"])
        assert sum(c["total"] for c in body["cells"]) == body["total_narratives"]

    def test_time_window_adds_empty_periods(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        body = trends(
            project, "period:month", since="2026-03-01T00:00:00Z", until="2026-09-01T00:00:00Z"
        )
        assert [c["key"][0] for c in body["cells"]] == [
            "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08",
        ]  # fmt: skip
        assert body["cells"][-1]["total"] == 0
        (timeline,) = body["timelines"]
        assert timeline["reason"] == "no narratives in the latest month"
        assert {t["trends"][0]["status"] for t in body["themes"]} == {"insufficient"}

    def test_short_history_says_not_enough_data(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, topics = seeded
        body = trends(project, "period:month", since="2026-05-01T00:00:00Z")
        (timeline,) = body["timelines"]
        assert timeline["reason"] == "only 2 months with narratives (needs 3)"
        assert timeline["n_tests"] == 0
        for theme in body["themes"]:
            trend = theme["trends"][0]
            if topics[theme["key"]] == "parking":
                assert trend["status"] == "new"
            else:
                assert trend["status"] == "insufficient"
                assert trend["reading"].startswith("not enough data: only 2 months")

    def test_no_dated_narratives(self, topic_client: TestClient) -> None:
        project = make_project(topic_client)
        undated = [{k: v for k, v in item.items() if k != "occurred_at"} for item in plan_corpus()]
        response = project.post("/narratives", {"narratives": undated})
        assert response.status_code == 201, response.text
        wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        analyse(project)
        body = trends(project, "period:month")
        assert body["cells"] == [] and body["excluded"] == body["total_narratives"] > 0
        (timeline,) = body["timelines"]
        assert timeline["latest"] is None and timeline["reason"] == "no months yet"
        assert {t["trends"][0]["status"] for t in body["themes"]} == {"insufficient"}


class TestTrendsBySession:
    def test_sessions_in_meeting_order(self, topic_client: TestClient, engine: Engine) -> None:
        project = make_project(topic_client)
        ids = add_sessions(engine, project)
        topics = seed(project, ids)
        body = trends(project, "session")
        assert [c["key"] for c in body["cells"]] == [[str(i)] for i in ids]
        assert body["cells"][0]["label"] == "Circle 1 (2026-01-20)"
        (timeline,) = body["timelines"]
        assert timeline["kind"] == "session" and timeline["latest"] == str(ids[-1])
        themes = by_topic(body, topics)
        assert themes["parking"]["trends"][0]["reading"] == (
            "new in the latest session (9 narratives)"
        )
        beds = themes["beds"]["trends"][0]
        assert beds["status"] == "rising"
        assert "session" in beds["reading"]
        # sessions are groups too: parking is most over-represented in the last one
        parking = themes["parking"]["distinctive"]
        assert max(parking, key=lambda d: d["z"] or 0)["group"] == [str(ids[-1])]
        # the session filter narrows to one meeting
        one = trends(project, "attribute:role", session_id=ids[0])
        assert one["total_narratives"] == 24


class TestCrossedTrends:
    def test_trust_by_month(self, seeded: tuple[ProjectHandle, dict[str, str]]) -> None:
        project, topics = seeded
        body = trends(project, "attribute:trust", "period:month")
        assert len(body["cells"]) == 12
        assert body["cells"][0]["key"] == ["North", "2026-01"]
        assert body["cells"][0]["label"] == "North · January 2026"
        assert [g["key"] for g in body["groups"]] == [["North"], ["South"]]
        assert [t["group"] for t in body["timelines"]] == [["North"], ["South"]]
        assert [t["label"] for t in body["timelines"]] == ["North", "South"]
        themes = by_topic(body, topics)
        north, south = themes["beds"]["trends"]
        assert north["status"] == "rising"
        assert south["status"] != "rising"
        assert [len(s["counts"]) for s in themes["beds"]["series"]] == [6, 6]
        assert sum(map(sum, (s["counts"] for s in themes["beds"]["series"]))) == sum(PLAN["beds"])
        # the two timelines add up to the months
        months = trends(project, "period:month")
        assert [c["total"] for c in months["cells"]] == [
            a["total"] + b["total"]
            for a, b in zip(*(t["periods"] for t in body["timelines"]), strict=True)
        ]

    def test_month_by_role_order_is_kept(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        body = trends(project, "period:quarter", "attribute:role")
        assert [c["key"] for c in body["cells"]] == [
            ["2026-Q1", "manager"], ["2026-Q1", "nurse"], ["2026-Q2", "manager"],
            ["2026-Q2", "nurse"],
        ]  # fmt: skip
        assert [t["group"] for t in body["timelines"]] == [["manager"], ["nurse"]]
        assert [g["key"] for g in body["groups"]] == [["manager"], ["nurse"]]
        assert body["timelines"][0]["reason"] == "only 2 quarters with narratives (needs 3)"

    def test_two_attributes(self, seeded: tuple[ProjectHandle, dict[str, str]]) -> None:
        project, _ = seeded
        body = trends(project, "attribute:trust", "attribute:role")
        assert len(body["cells"]) == len(body["groups"]) == 4
        assert body["timelines"] == []


class TestTrendFilters:
    def test_attribute_filter_and_theme_filter(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, topics = seeded
        everything = trends(project, "period:month")
        nurses = trends(project, "period:month", attribute="role:nurse")
        assert 0 < nurses["total_narratives"] < everything["total_narratives"]
        beds_key = next(k for k, t in topics.items() if t == "beds")
        only = trends(project, "period:month", theme=beds_key)
        assert [t["key"] for t in only["themes"]] == [beds_key]
        # a theme filter drops rows, not narratives: the cell totals stay
        assert only["cells"] == everything["cells"]
        assert only["themes"][0]["trends"][0]["status"] == "rising"

    def test_leaf_level_without_subthemes_is_the_top_level(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        top = trends(project, "period:month")
        leaf = trends(project, "period:month", level="leaf")
        assert leaf["themes"] == top["themes"] and leaf["cells"] == top["cells"]

    def test_unknown_level_is_422(self, seeded: tuple[ProjectHandle, dict[str, str]]) -> None:
        project, _ = seeded
        assert project.get("/trends", by="period:month", level="1").status_code == 422

    def test_unknown_theme_is_404(self, seeded: tuple[ProjectHandle, dict[str, str]]) -> None:
        project, _ = seeded
        response = project.get("/trends", by="period:month", theme="nope")
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("by", "fragment"),
        [
            ([], "at least one"),
            (["role"], "not understood"),
            (["period:day"], "not understood"),
            (["session", "period:month"], "only one"),
            (["attribute:role", "attribute:role"], "twice"),
            (["attribute:a", "attribute:b", "attribute:c"], "at most two"),
        ],
    )
    def test_bad_by_is_422(self, topic_client: TestClient, by: list[str], fragment: str) -> None:
        project = make_project(topic_client)
        response = project.get("/trends", by=by)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert fragment in response.json()["detail"]

    def test_baseline_must_be_shorter_than_window(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        response = project.get("/trends", by="period:month", window=3, baseline=3)
        assert response.status_code == 422

    def test_before_any_analysis(self, topic_client: TestClient, engine: Engine) -> None:
        project = make_project(topic_client)
        body = trends(project, "attribute:role")
        assert body["analysis"] is None and body["themes"] == [] and body["cells"] == []
        with Session(engine) as session:
            notes = analysis_service.no_analysis_notes(
                session, session.get_one(Project, project.id)
            )
        assert body["notes"] == notes and notes[0].startswith("no analysis yet")

    def test_notes_are_the_analysis_notes(
        self, seeded: tuple[ProjectHandle, dict[str, str]]
    ) -> None:
        project, _ = seeded
        body = trends(project, "attribute:role")
        assert body["notes"] == body["analysis"]["notes"]

    def test_read_key_and_other_projects(
        self, seeded: tuple[ProjectHandle, dict[str, str]], topic_client: TestClient
    ) -> None:
        project, _ = seeded
        assert project.get("/trends", key=project.key("read"), by="session").status_code == 200
        other = make_project(topic_client, name="Other")
        response = project.get("/trends", key=other.admin_key, by="session")
        assert response.status_code == 404
