"""The in-memory facts the theme and trend endpoints count from must count exactly what the SQL
of `narratives.filtered` over the stored assignments counts, and be read again whenever the
analysis's assignments change."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.orm import Session

from app.schemas.trends import parse_by
from app.services import read_facts
from app.services import trends as trend_service
from app.services.narratives import NarrativeFilter, filtered
from models import (
    Analysis,
    AnalysisStatus,
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    Project,
    ThemeAssignment,
)
from pipelines.trends import Axis, crossed_table, period_key
from tests.app.test_themes import TOPICS, analyse
from tests.app.test_trends import topic_client  # noqa: F401 - a fixture
from tests.conftest import ProjectHandle, make_project, wait_for_job


def auth(project: ProjectHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.admin_key}"}


ROLES = ("nurse", "manager", "carer")
TRUSTS = ("North", "South")
# times on both sides of month, quarter and ISO-week edges, with offsets and microseconds
EDGES = [
    "2025-12-31T23:59:59.999999Z",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:30:00+01:00",
    "2026-03-31T22:00:00-03:00",
    "2026-04-01T00:00:00.000001Z",
    "2026-06-28T23:59:59+00:00",
    "2026-06-29T00:00:00Z",
]


def corpus(sessions: list[int]) -> list[dict[str, Any]]:
    """Stories of three topics; some lack an attribute, a session or a time."""
    rng = random.Random(5)
    items = []
    for n in range(90):
        topic = list(TOPICS)[n % 3]
        item: dict[str, Any] = {"text": f"{TOPICS[topic][n % 3]} (story {n})"}
        attributes = {}
        if n % 7:
            attributes["role"] = rng.choice(ROLES)
        if n % 5:
            attributes["trust"] = rng.choice(TRUSTS)
        item["attributes"] = attributes
        if n % 6:
            item["session_id"] = rng.choice(sessions)
        if n % 9:
            month, day, hour = rng.randint(1, 6), rng.randint(1, 28), rng.randint(0, 23)
            plain = f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00Z"
            item["occurred_at"] = rng.choice(EDGES) if n % 4 == 0 else plain
        items.append(item)
    return items


@pytest.fixture
def analysed(topic_client: TestClient, engine: Engine) -> tuple[ProjectHandle, list[int]]:  # noqa: F811
    project = make_project(topic_client)
    with engine.begin() as conn:
        sessions = [
            conn.execute(
                insert(MeetingSession)
                .values(project_id=project.id, name=f"Circle {i}", attributes={})
                .returning(MeetingSession.id)
            ).scalar_one()
            for i in range(3)
        ]
    response = project.post("/narratives", {"narratives": corpus(sessions)})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    analyse(project)
    return project, sessions


def random_filter(rng: random.Random, sessions: list[int]) -> NarrativeFilter:
    attributes = []
    if rng.random() < 0.5:
        attributes.append(("role", rng.choice([*ROLES, "porter"])))
    if rng.random() < 0.3:
        attributes.append(("trust", rng.choice(TRUSTS)))
    if rng.random() < 0.1:
        attributes.append(("site", "Harbour"))
    since = until = None
    if rng.random() < 0.5:
        since = datetime.fromisoformat(rng.choice([*EDGES, "2026-02-10T00:00:00"]))
    if rng.random() < 0.5:
        until = datetime.fromisoformat(rng.choice([*EDGES, "2026-05-01T00:00:00+02:00"]))
    return NarrativeFilter(
        attributes=attributes,
        session_id=rng.choice([*sessions, None, None]),
        since=since,
        until=until,
    )


def latest(session: Session, project: ProjectHandle) -> Analysis:
    return session.scalars(
        select(Analysis).where(
            Analysis.project_id == project.id, Analysis.status == AnalysisStatus.succeeded
        )
    ).one()


def test_a_filter_keeps_the_narratives_the_sql_keeps(
    analysed: tuple[ProjectHandle, list[int]], engine: Engine
) -> None:
    project, sessions = analysed
    rng = random.Random(11)
    with Session(engine) as session:
        analysis = latest(session, project)
        known = read_facts.facts(session, analysis)
        assert len(known) == 90
        owner = session.get_one(Project, project.id)
        narrowed = 0
        for _ in range(80):
            flt = random_filter(rng, sessions)
            wanted = set(session.scalars(filtered(owner, flt).with_only_columns(Narrative.id)))
            rows = known.mask(flt)
            got = set(known.ids.tolist()) if rows is None else set(known.ids[rows].tolist())
            assert got == wanted, flt
            narrowed += 0 < len(wanted) < 90
        # the filters tried were not all trivial
        assert narrowed > 30


def brute_cells(
    session: Session, analysis: Analysis, flt: NarrativeFilter, by: list[str], leaf: bool
) -> tuple[Counter[tuple[int | None, tuple[str, ...]]], int, int]:
    """Counts per (theme, cell) read row by row from the database."""
    owner = session.get_one(Project, analysis.project_id)
    keep = set(session.scalars(filtered(owner, flt).with_only_columns(Narrative.id)))
    attributes: dict[tuple[int, str], str] = {
        (a.narrative_id, a.key): a.value for a in session.scalars(select(NarrativeAttribute))
    }
    counts: Counter[tuple[int | None, tuple[str, ...]]] = Counter()
    in_filter = unclustered = 0
    for assignment, narrative in session.execute(
        select(ThemeAssignment, Narrative)
        .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
        .where(ThemeAssignment.analysis_id == analysis.id)
    ).all():
        if narrative.id not in keep:
            continue
        theme = assignment.theme_id
        if leaf and assignment.subtheme_id is not None:
            theme = assignment.subtheme_id
        in_filter += 1
        unclustered += theme is None
        cell: list[str | None] = []
        for dim in parse_by(by):
            if dim.kind == "attribute":
                cell.append(attributes.get((narrative.id, dim.name or "")))
            elif dim.kind == "session":
                cell.append(None if narrative.session_id is None else str(narrative.session_id))
            else:
                at = narrative.occurred_at
                cell.append(None if at is None else period_key(at, dim.period))
        if None not in cell:
            counts[(theme, tuple(str(c) for c in cell))] += 1
    return counts, in_filter, unclustered


@pytest.mark.parametrize(
    "by",
    [
        ["attribute:role"],
        ["session"],
        ["period:week"],
        ["period:month"],
        ["period:quarter"],
        ["attribute:trust", "period:month"],
        ["session", "attribute:role"],
        ["attribute:site"],
    ],
)
def test_trend_cells_count_what_the_rows_hold(
    analysed: tuple[ProjectHandle, list[int]], engine: Engine, by: list[str]
) -> None:
    project, sessions = analysed
    rng = random.Random(3)
    with Session(engine) as session:
        analysis = latest(session, project)
        for flt in [NarrativeFilter(), *(random_filter(rng, sessions) for _ in range(12))]:
            for leaf in (False, True):
                query = trend_service.TrendQuery(by=parse_by(by), flt=flt)
                got = trend_service._aggregate(session, analysis, query, leaf)
                counts, in_filter, unclustered = brute_cells(session, analysis, flt, by, leaf)
                assert placed_cells(got) == counts, (by, flt, leaf)
                assert (got.in_filter, got.unclustered) == (in_filter, unclustered)
                # the table counted from the arrays is the one the rows would give
                owner = session.get_one(Project, project.id)
                plan = trend_service._rows(session, owner, analysis, query, False)
                axes = [
                    Axis({v: v for v in sorted({c[k] for _, c in counts})}) for k in range(len(by))
                ]
                table = trend_service._table(got, axes, plan)
                totals: Counter[tuple[str, ...]] = Counter()
                for (_, cell), n in counts.items():
                    totals[cell] += n
                rows = [
                    (plan.key_of[theme], cell, n)
                    for (theme, cell), n in counts.items()
                    if theme in plan.key_of
                ]
                expected = crossed_table(rows, totals, [r.key for r in plan.rows], axes)
                assert table.themes == expected.themes and table.cells == expected.cells
                assert (table.counts == expected.counts).all(), (by, flt, leaf)
                assert (table.totals == expected.totals).all(), (by, flt, leaf)


def placed_cells(placed: Any) -> Counter[tuple[int | None, tuple[str, ...]]]:
    """The (theme, cell) counts of the narratives `_aggregate` placed."""
    found: Counter[tuple[int | None, tuple[str, ...]]] = Counter()
    for i, theme in enumerate(placed.themes.tolist()):
        cell = tuple(
            column.values[int(codes[i])]
            for column, codes in zip(placed.columns, placed.codes, strict=True)
        )
        found[(None if theme == read_facts.NONE else theme, cell)] += 1
    return found


def test_filtered_theme_sizes_follow_a_withdrawal(
    analysed: tuple[ProjectHandle, list[int]], engine: Engine
) -> None:
    project, _ = analysed
    before = project.get("/themes", attribute="role:nurse").json()
    with Session(engine) as session:
        nurse = session.scalars(
            select(NarrativeAttribute.narrative_id)
            .join(ThemeAssignment, ThemeAssignment.narrative_id == NarrativeAttribute.narrative_id)
            .where(
                NarrativeAttribute.key == "role",
                NarrativeAttribute.value == "nurse",
                ThemeAssignment.theme_id.is_not(None),
            )
        ).first()
    assert nurse is not None
    deleted = project.client.delete(project.url(f"/narratives/{nurse}"), headers=auth(project))
    assert deleted.status_code == 200, deleted.text
    after = project.get("/themes", attribute="role:nurse").json()
    assert after["total_narratives"] == before["total_narratives"] - 1
    assert sum(t["size"] for t in after["themes"]) == sum(t["size"] for t in before["themes"]) - 1


def test_the_facts_are_read_again_when_the_analysis_changes(
    analysed: tuple[ProjectHandle, list[int]], engine: Engine
) -> None:
    project, _ = analysed
    with Session(engine) as session:
        analysis = latest(session, project)
        first = read_facts.facts(session, analysis)
        # kept while nothing changes
        assert read_facts.facts(session, analysis) is first
        # a change that leaves every count as it was still raises the revision
        analysis.revision += 1
        session.commit()
        second = read_facts.facts(session, analysis)
        assert second is not first
        assert read_facts.facts(session, analysis) is second


def test_a_placed_narrative_raises_the_revision(
    analysed: tuple[ProjectHandle, list[int]], engine: Engine
) -> None:
    project, _ = analysed
    with Session(engine) as session:
        before = latest(session, project).revision
    at = (datetime(2026, 6, 1, tzinfo=UTC) + timedelta(hours=3)).isoformat()
    text = f"{TOPICS['beds'][0]} (a late story)"
    response = project.post(
        "/narratives",
        {"narratives": [{"text": text, "occurred_at": at, "attributes": {"role": "carer"}}]},
    )
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    with Session(engine) as session:
        analysis = latest(session, project)
        assert analysis.incremental_count == 1
        assert analysis.revision == before + 1
    carers = project.get("/trends", by=["attribute:role"], since="2026-06-01T02:00:00Z").json()
    assert carers["total_narratives"] >= 1


def test_loading_the_facts_needs_no_second_connection(
    analysed: tuple[ProjectHandle, list[int]], database_url: str
) -> None:
    # a cold server's first readers hold every pooled connection while one of them loads the
    # facts; a load that asked the pool for another waited out the pool's timeout (about 30
    # s) before it failed. With a pool of one connection, the load uses the reader's own.
    project, _ = analysed
    narrow = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    try:
        with Session(narrow) as session:
            analysis = latest(session, project)
            # a new revision: the facts are not kept from an earlier test
            analysis.revision += 1
            session.flush()
            started = time.monotonic()
            found = read_facts.facts(session, analysis)
            assert time.monotonic() - started < 2
            assert len(found.ids) == session.scalar(
                select(func.count()).where(ThemeAssignment.analysis_id == analysis.id)
            )
            session.rollback()
    finally:
        narrow.dispose()
