from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from app.config import Settings
from app.main import create_app
from app.services import tensions as tension_service
from models import Narrative, NarrativeScore, Reaction, VoteTally
from tests.app.test_themes import TOPICS, TopicEmbedder, analyse
from tests.conftest import ProjectHandle, make_project, wait_for_job

SIGNIFIERS = [
    {"key": "steer", "kind": "dyad", "poles": ["follow the plan", "work with emergence"]},
    {"key": "trust", "kind": "dyad", "poles": ["distrust", "trust"]},
    {"key": "forces", "kind": "triad", "anchors": ["rules", "relationships", "resources"]},
]


def _triad(rng: np.random.Generator, centre: list[float]) -> list[float]:
    parts = rng.dirichlet(np.asarray(centre) * 40)
    return [round(float(p), 4) for p in parts]


def planted(per_topic: int = 30, seed: int = 1) -> list[dict[str, Any]]:
    """Beds: bimodal 'steer'. Staffing: 'forces' leans to rules. Records: 'trust' splits by site.
    Everything else is drawn the same way in every theme."""
    rng = np.random.default_rng(seed)
    items = []
    for topic, examples in TOPICS.items():
        for i in range(per_topic):
            site = "North" if i % 2 else "South"
            pole = (i // 2) % 2  # independent of the site
            steer = (0.05 if pole else 0.95) if topic == "beds" else rng.uniform(0.35, 0.65)
            trust = (
                (0.9 if site == "North" else 0.1) + rng.uniform(-0.05, 0.05)
                if topic == "records"
                else rng.uniform(0.3, 0.7)
            )
            forces = [0.8, 0.1, 0.1] if topic == "staffing" else [0.34, 0.33, 0.33]
            items.append(
                {
                    "text": f"{examples[i % 3]} (note {i})",
                    "external_id": f"{topic}-{i}",
                    "attributes": {"site": site, "role": "nurse" if i % 5 < 3 else "manager"},
                    "signifiers": {
                        "steer": round(float(steer), 4),
                        "trust": round(float(trust), 4),
                        "forces": _triad(rng, forces),
                    },
                }
            )
    return items


def null_corpus(per_topic: int = 30, seed: int = 2) -> list[dict[str, Any]]:
    """Every value drawn from one distribution, whatever the theme or site."""
    rng = np.random.default_rng(seed)
    return [
        {
            "text": f"{examples[i % 3]} (note {i})",
            "external_id": f"{topic}-{i}",
            "attributes": {"site": str(rng.choice(["North", "South"]))},
            "signifiers": {
                "steer": round(float(rng.uniform()), 4),
                "trust": round(float(rng.uniform()), 4),
                "forces": _triad(rng, [0.34, 0.33, 0.33]),
            },
        }
        for topic, examples in TOPICS.items()
        for i in range(per_topic)
    ]


@pytest.fixture
def tension_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        job_poll_seconds=0.2,
        auto_analyze=False,
        signals_permutations=199,
    )


@pytest.fixture
def tension_client(tension_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(tension_settings, embedder=TopicEmbedder())) as client:
        yield client


def load(client: TestClient, items: list[dict[str, Any]], **project: Any) -> ProjectHandle:
    handle = make_project(client, **project)
    response = handle.post("/signifiers", {"signifiers": SIGNIFIERS})
    assert response.status_code == 200, response.text
    response = handle.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    wait_for_job(client, handle.admin_key, response.json()["job"]["id"])
    return handle


def theme_of(project: ProjectHandle, topic: str) -> str:
    """The key of the theme holding the topic's narratives."""
    for theme in project.get("/themes").json()["themes"]:
        detail = project.get(f"/themes/{theme['key']}", limit=5).json()
        if all(m["snippet"].startswith(tuple(TOPICS[topic])) for m in detail["members"]):
            return str(theme["key"])
    raise AssertionError(f"no theme for {topic}")


def flagged(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in body["signals"] if s["flagged"]]


@pytest.fixture
def planted_project(tension_client: TestClient) -> ProjectHandle:
    project = load(tension_client, planted())
    analysis = analyse(project)
    assert analysis["theme_count"] == 3
    return project


class TestTensions:
    def test_planted_signals_are_found(self, planted_project: ProjectHandle) -> None:
        body = planted_project.get("/tensions").json()
        assert body["computed"] is True
        assert body["total"] == len(body["signals"]) > 0
        found = {(s["kind"], s["subject"], s["themes"][0]["key"]) for s in flagged(body)}
        beds = theme_of(planted_project, "beds")
        staffing = theme_of(planted_project, "staffing")
        records = theme_of(planted_project, "records")
        assert ("dyad_polarised", "steer", beds) in found
        assert ("triad_shift", "forces", staffing) in found
        assert ("group_divergence", "trust", records) in found
        # theme vs rest: the other themes shift too, less than the planted one
        shifts = [s for s in flagged(body) if s["kind"] == "triad_shift"]
        assert max(shifts, key=lambda s: s["strength"])["themes"][0]["key"] == staffing
        # nothing planted elsewhere is flagged
        for kind, subject, key in found:
            if kind == "dyad_polarised":
                # the site split makes 'trust' bimodal within records, too
                assert (subject, key) in {("steer", beds), ("trust", records)}
            if kind == "group_divergence":
                assert (subject, key) == ("trust", records)

    def test_signal_shape(self, planted_project: ProjectHandle) -> None:
        body = planted_project.get("/tensions", kind="dyad_polarised", flagged_only=True).json()
        signal = body["signals"][0]
        assert signal["strength_name"] and signal["test"]
        assert 0 <= signal["p_value"] <= signal["p_adjusted"] <= 0.05
        assert signal["correction"] == "bh"
        assert signal["themes"][0]["label"]
        assert signal["evidence"]["gate"] is True
        sides = signal["exemplars"]
        assert len(sides) == 2
        for members in sides.values():
            assert members and all(m["snippet"] for m in members)
        # exemplar ids are narrative ids of this project
        ids = [m["id"] for members in sides.values() for m in members]
        assert len(set(ids)) == len(ids)

    def test_filters(self, planted_project: ProjectHandle) -> None:
        records = theme_of(planted_project, "records")
        everything = planted_project.get("/tensions", limit=1000).json()
        by_theme = planted_project.get("/tensions", theme=records, limit=1000).json()
        assert 0 < by_theme["total"] < everything["total"]
        assert {s["themes"][0]["key"] for s in by_theme["signals"]} == {records}
        by_kind = planted_project.get("/tensions", kind=["triad_shift", "dyad_shift"]).json()
        assert by_kind["total"] > 0
        assert {s["kind"] for s in by_kind["signals"]} <= {"triad_shift", "dyad_shift"}
        by_attribute = planted_project.get("/tensions", attribute="site", limit=1000).json()
        assert by_attribute["total"] > 0
        assert {s["attribute"] for s in by_attribute["signals"]} == {"site"}
        strong = planted_project.get("/tensions", min_strength=0.5, limit=1000).json()
        assert all(s["strength"] >= 0.5 for s in strong["signals"])
        assert strong["total"] < everything["total"]
        only = planted_project.get("/tensions", flagged_only=True, limit=1000).json()
        assert only["total"] == len(flagged(everything))
        page = planted_project.get("/tensions", limit=2, offset=1).json()
        assert [s["id"] for s in page["signals"]] == [s["id"] for s in everything["signals"][1:3]]
        # flagged first
        flags = [s["flagged"] for s in everything["signals"]]
        assert flags == sorted(flags, reverse=True)

    def test_theme_detail_lists_its_signals(self, planted_project: ProjectHandle) -> None:
        beds = theme_of(planted_project, "beds")
        detail = planted_project.get(f"/themes/{beds}").json()
        kinds = {(s["kind"], s["subject"]) for s in detail["signals"] if s["flagged"]}
        assert ("dyad_polarised", "steer") in kinds
        assert all(s["themes"][0]["key"] == beds for s in detail["signals"])

    def test_sentiment_is_stored_per_narrative(
        self, planted_project: ProjectHandle, engine: Engine
    ) -> None:
        body = planted_project.get("/tensions", kind="sentiment_summary").json()
        assert body["total"] == 3
        assert all(-1 <= s["strength"] <= 1 and s["interval"] for s in body["signals"])
        with engine.connect() as conn:
            names = set(conn.scalars(select(NarrativeScore.name)))
            count = len(conn.execute(select(NarrativeScore.narrative_id)).all())
        assert "sentiment" in names
        assert count >= 90

    def test_null_data_flags_nothing(self, tension_client: TestClient) -> None:
        project = load(tension_client, null_corpus())
        analyse(project)
        body = project.get("/tensions", limit=1000).json()
        assert body["total"] > 0
        tested = [s for s in body["signals"] if s["p_value"] is not None]
        assert tested
        descriptive = {"group_consensus", "consensus_theme", "sentiment_summary"}
        assert [s for s in flagged(body) if s["kind"] not in descriptive] == []

    def test_too_little_data_is_not_tested(self, tension_client: TestClient) -> None:
        project = load(tension_client, planted(per_topic=8))
        analysis = analyse(project)
        body = project.get("/tensions", limit=1000).json()
        assert [s for s in body["signals"] if s["p_value"] is not None] == []
        assert [s for s in flagged(body) if s["kind"] != "group_consensus"] == []
        assert any("not enough data" in n or "no theme has enough" in n for n in analysis["notes"])

    def test_before_any_analysis(self, tension_client: TestClient) -> None:
        project = make_project(tension_client)
        body = project.get("/tensions").json()
        assert body == {
            "analysis_id": None,
            "analysis": None,
            "computed": False,
            "notes": [
                f"no analysis yet: POST /v1/projects/{project.id}/analyses to run one (with "
                "auto-analysis on, one starts when the first upload has been embedded)"
            ],
            "placed_since": 0,
            "total": 0,
            "limit": 100,
            "offset": 0,
            "signals": [],
        }

    def test_a_failure_keeps_the_themes(
        self, tension_client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("detector exploded")

        monkeypatch.setattr(tension_service, "compute", broken)
        project = load(tension_client, planted(per_topic=10))
        analysis = analyse(project)
        assert analysis["status"] == "succeeded"
        assert analysis["theme_count"] > 0
        assert any("detector exploded" in n for n in analysis["notes"])
        assert project.get("/tensions").json()["total"] == 0


class TestVotes:
    def test_divisive_theme(self, tension_client: TestClient, engine: Engine) -> None:
        project = load(tension_client, null_corpus())
        with engine.begin() as conn:
            rows = conn.execute(select(Narrative.id, Narrative.external_id)).all()
            tallies = []
            for narrative_id, external_id in rows:
                divisive = str(external_id).startswith("staffing")
                tallies += [
                    {
                        "narrative_id": narrative_id,
                        "group_key": "0",
                        "agree": 18 if divisive else 9,
                        "disagree": 1 if divisive else 9,
                        "passed": 0,
                    },
                    {
                        "narrative_id": narrative_id,
                        "group_key": "1",
                        "agree": 1 if divisive else 9,
                        "disagree": 18 if divisive else 9,
                        "passed": 0,
                    },
                ]
            conn.execute(insert(VoteTally), tallies)
        analyse(project)
        staffing = theme_of(project, "staffing")
        body = project.get("/tensions", kind="divisive_theme", flagged_only=True).json()
        assert [s["themes"][0]["key"] for s in body["signals"]] == [staffing]
        assert body["signals"][0]["attribute"] == "votes"
        assert body["signals"][0]["exemplars"]["theme"]


class TestReactions:
    def test_reactions_of_one_group_make_a_divisive_theme(
        self, tension_client: TestClient, engine: Engine
    ) -> None:
        items = [
            {
                "text": f"{examples[i % 3]} (note {i})",
                "external_id": f"{topic}-{i}",
                "author": f"P{i % 10}",
                "attributes": {"role": "nurse" if i % 10 < 5 else "manager"},
            }
            for topic, examples in TOPICS.items()
            for i in range(30)
        ]
        project = load(tension_client, items)
        with engine.begin() as conn:
            rows = conn.execute(
                select(Narrative.id, Narrative.external_id, Narrative.author, Narrative.project_id)
            ).all()
            people = {}
            for _, external_id, author, _ in rows:
                people[author] = int(str(external_id).split("-")[1]) % 10
            nurses = [a for a, i in people.items() if i < 5]
            managers = [a for a, i in people.items() if i >= 5]
            reactions = []
            for narrative_id, external_id, _, project_id in rows:
                reactors = (
                    nurses if str(external_id).startswith("staffing") else nurses[:3] + managers[:3]
                )
                reactions += [
                    {
                        "project_id": project_id,
                        "narrative_id": narrative_id,
                        "author": a,
                        "emoji": "+1",
                    }
                    for a in reactors
                ]
            conn.execute(insert(Reaction), reactions)
        analyse(project)
        staffing = theme_of(project, "staffing")
        body = project.get("/tensions", kind="divisive_theme", flagged_only=True).json()
        assert [(s["themes"][0]["key"], s["attribute"]) for s in body["signals"]] == [
            (staffing, "role")
        ]


class TestLargeProjects:
    def test_expensive_detectors_are_capped(self, database_url: str) -> None:
        settings = Settings(
            database_url=database_url,
            job_poll_seconds=0.2,
            auto_analyze=False,
            signals_large_project=50,
        )
        with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
            project = load(client, planted())
            analysis = analyse(project)
            notes = " ".join(analysis["notes"])
            assert "199 permutations" in notes
            assert project.get("/tensions", kind="opposing_sides").json()["total"] == 0
            flagged_kinds = {s["kind"] for s in flagged(project.get("/tensions").json())}
            assert "dyad_polarised" in flagged_kinds


class TestPolarities:
    AXIS: ClassVar[dict[str, Any]] = {
        "key": "steer",
        "label": "How we steer",
        "poles": ["follow the plan", "work with emergence"],
    }

    def test_declare_list_and_update(self, tension_client: TestClient) -> None:
        project = make_project(tension_client)
        response = project.post("/polarities", {"axes": [self.AXIS]})
        assert response.status_code == 200, response.text
        assert response.json()["axes"][0]["poles"] == self.AXIS["poles"]
        changed = {**self.AXIS, "poles": ["stick to the plan", "adapt as we go"]}
        project.post("/polarities", {"axes": [changed]})
        axes = project.get("/polarities").json()["axes"]
        assert [(a["key"], a["poles"]) for a in axes] == [("steer", changed["poles"])]

    def test_bad_axes_are_422(self, tension_client: TestClient) -> None:
        project = make_project(tension_client)
        for body in (
            {"axes": [{**self.AXIS, "poles": ["only one"]}]},
            {"axes": [{**self.AXIS, "poles": ["same", "Same"]}]},
            {"axes": [self.AXIS, self.AXIS]},
            {"axes": []},
        ):
            assert project.post("/polarities", body).status_code == 422

    def test_analysis_places_narratives_on_axes(
        self, tension_client: TestClient, engine: Engine
    ) -> None:
        project = load(tension_client, planted())
        assert project.post("/polarities", {"axes": [self.AXIS]}).status_code == 200
        analyse(project)
        body = project.get("/tensions", kind=["axis_polarised", "axis_shift"], limit=100).json()
        assert body["total"] > 0
        assert {s["subject"] for s in body["signals"]} == {"steer"}
        with engine.connect() as conn:
            positions = list(
                conn.scalars(
                    select(NarrativeScore.value).where(NarrativeScore.name == "axis:steer")
                )
            )
        assert len(positions) >= 90
        assert all(0 < p < 1 for p in positions)

    def test_keys(self, tension_client: TestClient) -> None:
        project = make_project(tension_client)
        read = project.key("read")
        assert project.get("/polarities", key=read).status_code == 200
        assert project.get("/tensions", key=read).status_code == 200
        assert project.post("/polarities", {"axes": [self.AXIS]}, key=read).status_code == 403
        other = make_project(tension_client, name="Elsewhere")
        assert project.get("/tensions", key=other.admin_key).status_code == 404
        assert (
            project.post("/polarities", {"axes": [self.AXIS]}, key=other.admin_key).status_code
            == 404
        )
