"""Long narratives through the service: embedded by segments stored once per distinct text,
belonging to the themes their segments fall in, quoting the segment of each theme, counted
once, and their segments forgotten when they are deleted."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Analysis, Embedding, NarrativeSegment, SegmentEmbedding, Theme
from pipelines.embed import FloatMatrix, text_hash
from pipelines.segments import segment, word_piece_estimate
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

WARD = ["ward", "beds", "nurse", "patients", "shift"]
TRAVEL = ["bus", "parking", "train", "road", "ticket"]


class WordTopicEmbedder:
    """A text's vector is the sum of its topic words' centres plus a little noise, so a text
    mixing topics lies between them; counts every text it embeds."""

    def __init__(self, dimension: int = 24) -> None:
        rng = np.random.default_rng(11)
        self.centres = {"ward": rng.normal(size=dimension), "travel": rng.normal(size=dimension)}
        self._dimension = dimension
        self.embedded: list[str] = []
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        return "test/word-topics"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        with self.lock:
            self.embedded += texts
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(scale=0.4, size=self._dimension)
            for word in text.lower().replace(".", " ").split():
                for topic, words in (("ward", WARD), ("travel", TRAVEL)):
                    if word in words:
                        vector = vector + self.centres[topic]
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)


def sentence(words: list[str], i: int) -> str:
    return f"On day {i} the {words[i % 5]} and the {words[(i + 2) % 5]} were all we spoke of."


def short_texts(words: list[str], label: str, n: int = 24) -> list[dict[str, Any]]:
    return [
        {"text": f"{sentence(words, i)} Note {label} {i}.", "external_id": f"{label}-{i}"}
        for i in range(n)
    ]


#: Fifteen sentences about the ward, then three about getting there: long, mostly one topic.
LONG_STORY = " ".join(
    [sentence(WARD, i) for i in range(15)] + [sentence(TRAVEL, i) for i in range(3)]
)
#: Shares its first segment with LONG_STORY, then tells of travel.
OTHER_STORY = " ".join(
    [sentence(WARD, i) for i in range(4)] + [sentence(TRAVEL, i + 3) for i in range(8)]
)


@pytest.fixture
def words_embedder() -> WordTopicEmbedder:
    return WordTopicEmbedder()


@pytest.fixture
def words_client(settings: Settings, words_embedder: WordTopicEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=words_embedder)) as client:
        yield client


def post(project: ProjectHandle, items: list[dict[str, Any]]) -> list[int]:
    response = project.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    return [int(i) for i in response.json()["narrative_ids"]]


def analyse(project: ProjectHandle) -> None:
    response = project.post("/analyses", {})
    assert response.status_code == 202, response.text
    job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 120)
    assert job["status"] == "succeeded", job


@pytest.fixture
def stories(words_client: TestClient) -> tuple[ProjectHandle, int, int]:
    project = make_project(words_client)
    post(project, short_texts(WARD, "ward") + short_texts(TRAVEL, "travel"))
    long_id, other_id = post(
        project,
        [
            {"text": LONG_STORY, "external_id": "long"},
            {"text": OTHER_STORY, "external_id": "other"},
        ],
    )
    analyse(project)
    return project, long_id, other_id


def themes(project: ProjectHandle, membership: str = "primary") -> dict[str, dict[str, Any]]:
    body = project.get("/themes", membership=membership).json()
    return {t["key"]: t for t in body["themes"]}


def memberships(project: ProjectHandle, narrative_id: int) -> list[str]:
    rows = project.get("/assignments").json()["assignments"]
    (row,) = [r for r in rows if r["narrative_id"] == narrative_id]
    assert row["memberships"][0]["theme_key"] == row["theme_key"]
    return [m["theme_key"] for m in row["memberships"]]


def test_the_stories_are_long_and_share_a_segment() -> None:
    long, other = segment([LONG_STORY, OTHER_STORY])
    assert long is not None and other is not None
    assert (len(long.texts), len(other.texts)) == (6, 4)
    assert long.texts[0] == other.texts[0]


def test_segment_vectors_are_stored_once_per_distinct_text(
    stories: tuple[ProjectHandle, int, int],
    words_embedder: WordTopicEmbedder,
    engine: Engine,
) -> None:
    long, other = segment([LONG_STORY, OTHER_STORY])
    assert long is not None and other is not None
    distinct = set(long.texts) | set(other.texts)
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(SegmentEmbedding))
        rows = session.scalar(select(func.count()).select_from(NarrativeSegment))
    assert stored == len(distinct) == 9
    assert rows == 10
    segment_calls = [t for t in words_embedder.embedded if t in distinct]
    assert sorted(segment_calls) == sorted(distinct)
    # the long texts themselves are never embedded whole
    assert LONG_STORY not in words_embedder.embedded
    # an analysis embeds theme names, never a cached segment again
    project, _, _ = stories
    analyse(project)
    assert sorted(t for t in words_embedder.embedded if t in distinct) == sorted(distinct)


def test_a_long_story_belongs_to_the_themes_of_its_segments(
    stories: tuple[ProjectHandle, int, int],
) -> None:
    project, long_id, _ = stories
    found = themes(project)
    assert len(found) == 2
    held = memberships(project, long_id)
    assert len(held) == 2
    ward_key = held[0]
    assert "beds" in " ".join(k["term"] for k in found[ward_key]["keywords"]) or any(
        w in found[ward_key]["label"] for w in WARD
    )


def test_counts_take_each_story_once_by_its_primary_theme(
    stories: tuple[ProjectHandle, int, int],
) -> None:
    project, long_id, _ = stories
    rows = project.get("/assignments").json()["assignments"]
    assert len(rows) == 50 and len({r["narrative_id"] for r in rows}) == 50
    primary, any_theme = themes(project), themes(project, "any")
    for key, theme in primary.items():
        assert theme["size"] == sum(r["theme_key"] == key for r in rows)
        held = [r for r in rows if key in {m["theme_key"] for m in r["memberships"]}]
        assert any_theme[key]["size"] == len(held)
    _primary, second = memberships(project, long_id)
    assert any_theme[second]["size"] > primary[second]["size"]


def test_a_theme_quotes_the_segment_that_fell_in_it(
    stories: tuple[ProjectHandle, int, int], engine: Engine
) -> None:
    project, long_id, _ = stories
    first, second = memberships(project, long_id)
    with Session(engine) as session, session.begin():
        for key in (first, second):
            theme = session.scalars(select(Theme).where(Theme.key == key)).one()
            session.execute(update(Theme).where(Theme.id == theme.id).values(exemplars=[long_id]))
            # as every change to a finished analysis's themes does, so readers read them again
            session.execute(
                update(Analysis)
                .where(Analysis.id == theme.analysis_id)
                .values(revision=Analysis.revision + 1)
            )
    long = segment([LONG_STORY])[0]
    assert long is not None
    # five segments tell of the ward, the last of travel
    for key, quotable in ((first, long.texts[:5]), (second, long.texts[5:])):
        (exemplar,) = project.get(f"/themes/{key}").json()["exemplars"]
        assert exemplar["id"] == long_id and exemplar["snippet"] in quotable
        (on_page,) = themes(project)[key]["exemplars"]
        assert on_page == exemplar


def test_a_page_reads_the_segments_of_all_its_themes_at_once(
    stories: tuple[ProjectHandle, int, int],
) -> None:
    project, _, _ = stories
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "narrative_segments" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        page = themes(project)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(page) == 2
    # one query for the page's segments, however many themes it shows
    assert len(reads) == 1


def test_deleting_a_story_drops_the_segments_no_other_text_uses(
    stories: tuple[ProjectHandle, int, int], engine: Engine
) -> None:
    project, long_id, _ = stories
    long, other = segment([LONG_STORY, OTHER_STORY])
    assert long is not None and other is not None
    response = project.client.delete(
        project.url(f"/narratives/{long_id}"), headers=auth(project.admin_key)
    )
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        owners = set(session.scalars(select(NarrativeSegment.text_hash)))
        kept = set(session.scalars(select(SegmentEmbedding.text_hash)))
    assert owners == {text_hash(OTHER_STORY)}
    assert kept == {text_hash(t) for t in other.texts}


def test_a_long_story_placed_later_belongs_to_the_themes_of_its_segments(
    stories: tuple[ProjectHandle, int, int],
) -> None:
    project, long_id, _ = stories
    story = " ".join([sentence(WARD, i + 1) for i in range(15)] + [sentence(TRAVEL, 4)] * 3)
    (placed_id,) = post(project, [{"text": story, "external_id": "later"}])
    rows = project.get("/assignments").json()["assignments"]
    (row,) = [r for r in rows if r["narrative_id"] == placed_id]
    assert row["incremental"] is True
    assert memberships(project, placed_id) == memberships(project, long_id)


class WindowedEmbedder(WordTopicEmbedder):
    """Reads up to 400 word pieces of a text, counted as the splitter estimates them."""

    max_tokens = 400

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return word_piece_estimate(texts)


def test_a_long_story_that_fits_the_window_keeps_its_whole_vector(
    settings: Settings, engine: Engine
) -> None:
    embedder = WindowedEmbedder()
    with TestClient(create_app(settings, embedder=embedder)) as client:
        post(make_project(client), [{"text": LONG_STORY}])
    assert LONG_STORY in embedder.embedded
    with Session(engine) as session:
        stored = session.scalars(select(Embedding.vector)).one()
        segments = session.scalar(select(func.count()).select_from(NarrativeSegment))
    expected = WordTopicEmbedder().encode([LONG_STORY])[0]
    np.testing.assert_allclose(np.frombuffer(stored, dtype="<f4"), expected, rtol=1e-6)
    assert segments == 6
