"""A deleted narrative leaves every result at once: themes, sizes, exemplars, assignments,
similar, trends, tensions, placements, cached maps and later analyses."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs.handlers.analyze import DELETED_MEANWHILE
from app.main import create_app
from app.services import analyses as analysis_service
from app.services import theme_map, withdrawal
from app.services.narratives import NarrativeFilter
from models import (
    Analysis,
    ApiKey,
    Embedding,
    Narrative,
    Project,
    Reaction,
    Signal,
    Theme,
    ThemeAssignment,
    VoteTally,
)
from pipelines.embed import text_hash, unit_rows
from pipelines.themes import ThemeDescriber
from tests.app.test_tensions import SIGNIFIERS, planted
from tests.app.test_themes import TopicEmbedder, analyse
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

#: A word no other narrative uses, so any answer still showing it shows the deleted story.
WORD = "zorblaxian"
WORDY = "No free beds on the ward again tonight, " + " ".join([WORD] * 12)


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"data_dir": str(tmp_path / "var"), "signals_permutations": 199}
    )
    with TestClient(create_app(configured, embedder=TopicEmbedder())) as test_client:
        yield test_client


def load(client: TestClient, items: list[dict[str, Any]]) -> ProjectHandle:
    project = make_project(client)
    assert project.post("/signifiers", {"signifiers": SIGNIFIERS}).status_code == 200
    response = project.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    wait_for_job(client, project.admin_key, response.json()["job"]["id"])
    return project


def corpus() -> list[dict[str, Any]]:
    items = planted(per_topic=24)
    # beds-0 gets a made-up word, many times, so it shows in its theme's keywords
    items[0] = {**items[0], "text": WORDY}
    return items


@pytest.fixture
def analysed(client: TestClient) -> ProjectHandle:
    project = load(client, corpus())
    analysis = analyse(project)
    assert analysis["theme_count"] == 3
    return project


def narrative_id(project: ProjectHandle, external_id: str) -> int:
    items = project.get("/narratives", limit=1000).json()["items"]
    return int(next(n["id"] for n in items if n["external_id"] == external_id))


def every_theme_answer(project: ProjectHandle) -> str:
    """Everything the theme and tension reads show, as one text."""
    answers: list[Any] = []
    for level in ("top", "leaf"):
        page = project.get("/themes", level=level, limit=500).json()
        answers.append(page)
        for theme in page["themes"]:
            answers.append(project.get(f"/themes/{theme['key']}", limit=1000).json())
            answers.append(project.get(f"/themes/{theme['key']}/history").json())
    answers.append(project.get("/tensions", limit=1000).json())
    return json.dumps(answers).lower()


def _about_beds(keywords: list[Any]) -> bool:
    # found by its keywords: a theme's name is a phrase, which need not use the word
    return any("bed" in str(term) for term, _ in keywords)


def delete(project: ProjectHandle, path: str) -> Any:
    return project.client.delete(project.url(path), headers=auth(project.admin_key))


def map_ids(project: ProjectHandle) -> list[int]:
    """The narratives on the project's map, as the (cached) map answer has them."""
    runtime = project.client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.session_factory() as session:
        row = session.get_one(Project, project.id)
        body = theme_map.map_points_json(session, row, NarrativeFilter())
    return list(json.loads(body)["ids"])


class TestThemesAreDescribedAgain:
    def test_the_word_is_gone_from_labels_keywords_exemplars_and_tensions(
        self, analysed: ProjectHandle
    ) -> None:
        assert WORD in every_theme_answer(analysed)  # it did show before
        target = narrative_id(analysed, "beds-0")
        response = delete(analysed, f"/narratives/{target}")
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["narratives"] == 1 and summary["analyses_revised"] == 1
        assert summary["themes_redescribed"] >= 1
        assert WORD not in every_theme_answer(analysed)
        assert analysed.get(f"/narratives/{target}").status_code == 404

    def test_stored_descriptions_hold_no_trace(
        self, analysed: ProjectHandle, engine: Engine
    ) -> None:
        target = narrative_id(analysed, "beds-0")
        with Session(engine) as session:
            described = json.dumps([(t.label, t.keywords) for t in session.scalars(select(Theme))])
            assert WORD in described.lower()  # its word was a keyword before
        assert delete(analysed, f"/narratives/{target}").status_code == 200
        with Session(engine) as session:
            for theme in session.scalars(select(Theme)):
                assert WORD not in theme.label.lower()
                assert WORD not in json.dumps(theme.keywords).lower()
                assert target not in theme.exemplars
            for signal in session.scalars(select(Signal)):
                assert WORD not in json.dumps(signal.evidence).lower()
                ids = [i for v in signal.exemplars.values() if isinstance(v, list) for i in v]
                assert target not in ids

    def test_keywords_are_those_the_labelling_code_gives_the_rest(
        self, analysed: ProjectHandle, engine: Engine
    ) -> None:
        # one more narrative, then a second analysis: both analyses hold beds-0
        analysed.post("/narratives", {"narratives": [{"text": "Two nurses off sick (again)"}]})
        analyse(analysed)
        target = narrative_id(analysed, "beds-0")
        summary = delete(analysed, f"/narratives/{target}").json()
        assert summary["analyses_revised"] == 2
        with Session(engine) as session:
            for analysis_id in session.scalars(select(Analysis.id)):
                themes = list(
                    session.scalars(
                        select(Theme)
                        .where(Theme.analysis_id == analysis_id, Theme.level == 0)
                        .order_by(Theme.id)
                    )
                )
                rows = session.execute(
                    select(Narrative.text, ThemeAssignment.theme_id)
                    .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
                    .where(ThemeAssignment.analysis_id == analysis_id)
                    .order_by(Narrative.id)
                ).all()
                index: dict[int | None, int] = {t.id: i for i, t in enumerate(themes)}
                labels = np.array([index.get(theme_id, -1) for _, theme_id in rows])
                texts = [text for text, _ in rows]
                # the name is ranked by the model, as the analysis ranked it, apart from the
                # names the other themes keep
                vectors = unit_rows(TopicEmbedder().encode(texts))
                beds = next(i for i, t in enumerate(themes) if _about_beds(t.keywords))
                kept = {i: t.label for i, t in enumerate(themes) if i != beds}
                fresh = ThemeDescriber().fit(
                    texts, labels, vectors, phrase_embedder=TopicEmbedder(), fixed_names=kept
                )
                expected = [[term, round(w, 6)] for term, w in fresh.keywords_[beds]]
                assert themes[beds].keywords == expected
                assert themes[beds].label == fresh.theme_labels_[beds]
                # named again by a phrase of the members left, none from the deleted story
                left = [t.lower() for t, theme_id in rows if theme_id == themes[beds].id]
                assert any(themes[beds].label.lower() in text for text in left)

    def test_a_theme_left_empty_says_so(self, analysed: ProjectHandle) -> None:
        themes = analysed.get("/themes").json()["themes"]
        records = next(
            t for t in themes if {"records", "software"} & set(json.dumps(t["keywords"]).split('"'))
        )
        members = analysed.get(f"/themes/{records['key']}", limit=1000).json()["members"]
        for member in members:
            assert delete(analysed, f"/narratives/{member['id']}").status_code == 200
        listed = [t["key"] for t in analysed.get("/themes").json()["themes"]]
        assert records["key"] not in listed  # listings show themes with members
        emptied = analysed.get(f"/themes/{records['key']}").json()
        assert emptied["size"] == 0 and emptied["keywords"] == [] and emptied["exemplars"] == []
        assert emptied["label"] == "(no narratives left)"


class TestSignals:
    def test_quotes_and_side_keywords_are_taken_out(
        self, analysed: ProjectHandle, engine: Engine
    ) -> None:
        target = narrative_id(analysed, "beds-0")
        keep = narrative_id(analysed, "beds-2")
        with Session(engine) as session, session.begin():
            analysis_id = session.scalar(select(func.max(Analysis.id)))
            beds = next(
                t.key
                for t in session.scalars(select(Theme).where(Theme.level == 0))
                if _about_beds(t.keywords)
            )
            session.add(
                Signal(
                    analysis_id=analysis_id,
                    kind="opposing_sides",
                    theme_key=beds,
                    theme_keys=[beds],
                    strength=0.7,
                    strength_name="loo_seed_correlation",
                    evidence={
                        "sides": {"a": {"keywords": [[WORD, 2.0], ["corridors", 1.0]]}},
                        "some_say": WORDY,
                        "others_say": "We spent the shift hunting for an empty bed",
                    },
                    exemplars={"a": [target, keep], "b": [keep]},
                )
            )
        assert delete(analysed, f"/narratives/{target}").status_code == 200
        body = analysed.get("/tensions", kind="opposing_sides").json()
        (signal,) = body["signals"]
        assert WORD not in json.dumps(signal).lower()
        assert [e["id"] for e in signal["exemplars"]["a"]] == [keep]
        assert signal["evidence"]["some_say"] is None
        assert signal["evidence"]["others_say"].startswith("We spent the shift")
        assert signal["evidence"]["sides"]["a"]["keywords"] == [["corridors", 1.0]]
        assert "deleted" in signal["evidence"]["withdrawn"]


class TestCountsAndReads:
    def test_sizes_assignments_similar_and_trends(self, analysed: ProjectHandle) -> None:
        target = narrative_id(analysed, "beds-0")
        before = analysed.get("/themes").json()
        other = narrative_id(analysed, "beds-3")
        similar = analysed.get(f"/narratives/{other}/similar", limit=100).json()["items"]
        assert target in [s["id"] for s in similar]
        trends_before = analysed.get("/trends", by="attribute:site").json()

        assert delete(analysed, f"/narratives/{target}").status_code == 200

        after = analysed.get("/themes").json()
        assert after["total_narratives"] == before["total_narratives"] - 1
        assert sum(t["size"] for t in after["themes"]) == (
            sum(t["size"] for t in before["themes"]) - 1
        )
        assignments = analysed.get("/assignments").json()["assignments"]
        assert target not in [a["narrative_id"] for a in assignments]
        rows = list(csv.DictReader(io.StringIO(analysed.get("/assignments", format="csv").text)))
        assert str(target) not in [r["narrative_id"] for r in rows]
        assert len(rows) == len(assignments) == before["total_narratives"] - 1
        similar = analysed.get(f"/narratives/{other}/similar", limit=100).json()["items"]
        assert target not in [s["id"] for s in similar]
        trends_after = analysed.get("/trends", by="attribute:site").json()
        assert trends_after["total_narratives"] == trends_before["total_narratives"] - 1

    def test_the_cached_map_forgets_it(self, analysed: ProjectHandle) -> None:
        target = narrative_id(analysed, "beds-0")
        assert target in map_ids(analysed)
        assert delete(analysed, f"/narratives/{target}").status_code == 200
        assert target not in map_ids(analysed)

    def test_a_map_cached_in_another_web_process_forgets_it(
        self, analysed: ProjectHandle, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # with several web processes the deletion is made in one, and `forget` runs there
        # only: the others must see the analysis's new revision
        target = narrative_id(analysed, "beds-0")
        assert target in map_ids(analysed)
        monkeypatch.setattr(theme_map, "forget", lambda _project_id: None)
        assert delete(analysed, f"/narratives/{target}").status_code == 200
        assert target not in map_ids(analysed)

    def test_a_placed_narrative_leaves_its_placement(
        self, analysed: ProjectHandle, engine: Engine
    ) -> None:
        posted = analysed.post(
            "/narratives", {"narratives": [{"text": "Bed capacity ran out at dawn (late)"}]}
        )
        job = wait_for_job(analysed.client, analysed.admin_key, posted.json()["job"]["id"])
        assert job["status"] == "succeeded"
        placed = posted.json()["narrative_ids"][0]
        with Session(engine) as session:
            assert session.scalar(select(func.max(Analysis.incremental_count))) == 1
        assert delete(analysed, f"/narratives/{placed}").status_code == 200
        with Session(engine) as session:
            assert session.scalar(select(func.max(Analysis.incremental_count))) == 0
        assignments = analysed.get("/assignments").json()["assignments"]
        assert placed not in [a["narrative_id"] for a in assignments]

    def test_a_later_analysis_never_sees_it(self, analysed: ProjectHandle) -> None:
        target = narrative_id(analysed, "beds-0")
        assert delete(analysed, f"/narratives/{target}").status_code == 200
        again = analyse(analysed)
        assert again["narrative_count"] == 71
        assert WORD not in every_theme_answer(analysed)


class TestReactionsAndVotes:
    def test_tallies_and_reactions_go_with_the_narrative(
        self, analysed: ProjectHandle, engine: Engine
    ) -> None:
        target = narrative_id(analysed, "beds-1")
        with Session(engine) as session, session.begin():
            session.add(VoteTally(narrative_id=target, group_key="all", agree=3))
            session.add(
                Reaction(project_id=analysed.id, narrative_id=target, author="p", emoji="👍")
            )
        summary = delete(analysed, f"/narratives/{target}").json()
        assert summary["reactions"] == 1
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(VoteTally)) == 0
            assert session.scalar(select(func.count()).select_from(Reaction)) == 0


class TestEmbeddings:
    def test_dropped_unless_another_narrative_has_the_text(
        self, client: TestClient, engine: Engine
    ) -> None:
        shared = "Rota gaps meant one nurse for twelve patients, again"
        alone = "Two nurses off sick and nobody to cover the unit"
        one = load(client, [{"text": shared}, {"text": alone}])
        other = load(client, [{"text": shared}])
        ids = {n["text"]: n["id"] for n in one.get("/narratives").json()["items"]}
        for text in (shared, alone):
            assert delete(one, f"/narratives/{ids[text]}").status_code == 200
        with Session(engine) as session:
            kept = set(session.scalars(select(Embedding.text_hash)))
        assert text_hash(shared) in kept  # the other project still has the text
        assert text_hash(alone) not in kept
        assert other.get("/narratives").json()["total"] == 1


def test_unknown_narrative_ids_are_404(analysed: ProjectHandle) -> None:
    assert delete(analysed, "/narratives/999999").status_code == 404
    assert delete(analysed, f"/narratives/{2**63}").status_code == 422


def test_an_analysis_running_during_a_deletion_stores_nothing_about_it(
    analysed: ProjectHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = analysed.client.app.state.runtime  # type: ignore[attr-defined]
    target = narrative_id(analysed, "beds-0")
    real = analysis_service.cluster

    def cluster_meanwhile_deleted(prepared: Any, X: Any, embedder: Any = None) -> Any:
        result = real(prepared, X, embedder)
        # the narrative is deleted (and committed) while the analysis computes
        with runtime.session_factory() as session:
            project = session.get_one(Project, analysed.id)
            key = session.scalars(select(ApiKey).where(ApiKey.project_id == project.id)).first()
            assert key is not None
            withdrawal.delete_narrative(session, project, key, target, runtime.settings)
            session.commit()
        return result

    monkeypatch.setattr(analysis_service, "cluster", cluster_meanwhile_deleted)
    response = analysed.post("/analyses", {})
    job = wait_for_job(analysed.client, analysed.admin_key, response.json()["job"]["id"], 120)
    assert job["status"] == "failed"
    failed = analysed.get(f"/analyses/{response.json()['analysis']['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"] == DELETED_MEANWHILE
    assert analysed.get(f"/narratives/{target}").status_code == 404
    assert WORD not in every_theme_answer(analysed)
