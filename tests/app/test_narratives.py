from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.app.test_signifiers import declare
from tests.conftest import CountingEmbedder, ProjectHandle, wait_for_job


def story(text: str, **fields: Any) -> dict[str, Any]:
    return {"text": text, **fields}


FULL = story(
    "The discharge team met every morning and the delays fell.",
    title="Morning huddles",
    external_id="st-1",
    author="Ada Byron",
    occurred_at="2026-03-02T09:30:00+01:00",
    attributes={"role": "nurse", "site": "North", "years": 4},
    signifiers={
        "influences": [0.2, 0.5, 0.3],
        "control": 0.8,
        "risk": {"people": {"x": 0.1, "y": 0.9}},
        "feelings": ["hopeful", "worried"],
        "role": "nurse",
        "anything_else": None,
    },
)


class TestPostNarratives:
    def test_stores_a_batch_with_signifiers(self, project: ProjectHandle) -> None:
        declare(project)
        response = project.post("/narratives", {"narratives": [FULL, story("Short one.")]})
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["received"], body["created"], body["duplicates"]) == (2, 2, 0)
        assert body["job"]["kind"] == "embed"

        listed = project.get("/narratives").json()
        assert listed["total"] == 2
        first = listed["items"][0]
        assert first["title"] == "Morning huddles"
        assert first["occurred_at"].startswith("2026-03-02T08:30:00")  # stored as UTC
        assert first["attributes"] == {"role": "nurse", "site": "North", "years": 4}
        assert first["signifiers"]["control"] == 0.8
        assert first["signifiers"]["feelings"] == ["hopeful", "worried"]
        assert first["signifiers"]["anything_else"] is None  # not applicable, not zero
        assert "anything_else" in first["signifiers"]
        assert "influences" not in listed["items"][1]["signifiers"]

    def test_triad_percentages_are_normalised(self, project: ProjectHandle) -> None:
        declare(project)
        item = story(
            "x", signifiers={"influences": {"rules": 20, "relationships": 30, "resources": 50}}
        )
        response = project.post("/narratives", {"narratives": [item]})
        assert response.status_code == 201, response.text
        stored = project.get(f"/narratives/{response.json()['narrative_ids'][0]}").json()
        assert stored["signifiers"]["influences"] == [0.2, 0.3, 0.5]

    def test_authors_are_pseudonymised_stably(self, project: ProjectHandle) -> None:
        batch = [story("one", author="Grace Hopper"), story("two", author="grace  hopper")]
        project.post("/narratives", {"narratives": batch})
        authors = {n["author"] for n in project.get("/narratives").json()["items"]}
        assert len(authors) == 1
        (pseudonym,) = authors
        assert pseudonym.startswith("person-") and "Grace" not in pseudonym

    def test_invalid_item_rejects_whole_batch(self, project: ProjectHandle) -> None:
        declare(project)
        batch = [
            story("fine"),
            story("bad dyad", signifiers={"control": 1.7}),
            story("bad triad", signifiers={"influences": [0.5, 0.5, 0.5]}),
            story("unknown", signifiers={"nope": 1}),
        ]
        response = project.post("/narratives", {"narratives": batch})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        errors = response.json()["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {
            (1, "signifiers.control"),
            (2, "signifiers.influences"),
            (3, "signifiers.nope"),
        }
        assert "[0, 1]" in errors[0]["message"]
        assert project.get("/narratives").json()["total"] == 0

    def test_schema_error_names_index_and_field(self, project: ProjectHandle) -> None:
        batch = [story("fine"), story("fine too"), {"title": "no text"}]
        response = project.post("/narratives", {"narratives": batch})
        assert response.status_code == 422
        body = response.json()
        assert body["errors"][0]["index"] == 2
        assert body["errors"][0]["field"] == "text"
        assert body["detail"].startswith("item 2, text:")
        assert project.get("/narratives").json()["total"] == 0

    def test_unknown_field_is_rejected(self, project: ProjectHandle) -> None:
        response = project.post("/narratives", {"narratives": [story("x", txet="typo")]})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "txet"

    def test_too_long_text(self, project: ProjectHandle) -> None:
        response = project.post("/narratives", {"narratives": [story("x" * 20_001)]})
        assert response.status_code == 422
        assert "limit is 20000" in response.json()["errors"][0]["message"]

    def test_attribute_longer_than_its_column_is_422_naming_item_and_field(
        self, project: ProjectHandle
    ) -> None:
        # narrative_attributes holds keys of 100 and values of 500 characters; before, SQLite
        # stored longer ones and PostgreSQL failed the request with a 500
        batch = [
            story("fine", attributes={"role": "nurse"}),
            story("long value", attributes={"role": "x" * 501}),
            story("long key", attributes={"k" * 101: "v"}),
        ]
        response = project.post("/narratives", {"narratives": batch})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert [(e["index"], e["field"][:11]) for e in errors] == [
            (1, "attributes."),
            (2, "attributes."),
        ]
        assert errors[0]["field"] == "attributes.role"
        assert "500" in errors[0]["message"] and "100" in errors[1]["message"]
        assert project.get("/narratives").json()["total"] == 0

    def test_batch_limit(self, project: ProjectHandle) -> None:
        batch = [story(f"n{i}") for i in range(10_001)]
        response = project.post("/narratives", {"narratives": batch})
        assert response.status_code == 422
        assert "at most 10000" in response.json()["detail"]
        assert project.get("/narratives").json()["total"] == 0

    def test_reposting_does_not_duplicate(self, project: ProjectHandle) -> None:
        batch = [
            story("same words", author="A", occurred_at="2026-01-01T10:00:00Z"),
            story("with an id", external_id="ext-9"),
        ]
        first = project.post("/narratives", {"narratives": batch}).json()
        again = project.post("/narratives", {"narratives": batch}).json()
        assert again["created"] == 0 and again["duplicates"] == 2
        assert again["narrative_ids"] == first["narrative_ids"]
        assert again["job"] is None
        assert again["source_id"] == first["source_id"]
        # the external id identifies the narrative even when the text is edited
        edited = project.post(
            "/narratives", {"narratives": [story("with an id, edited", external_id="ext-9")]}
        ).json()
        assert edited["created"] == 0
        # same text by another author, or at another time, is another narrative
        other = project.post(
            "/narratives",
            {"narratives": [story("same words", author="B", occurred_at="2026-01-01T10:00:00Z")]},
        ).json()
        assert other["created"] == 1
        assert project.get("/narratives").json()["total"] == 3

    def test_duplicates_inside_one_batch(self, project: ProjectHandle) -> None:
        body = project.post("/narratives", {"narratives": [story("twice"), story("twice")]})
        result = body.json()
        assert (result["created"], result["duplicates"]) == (1, 1)
        assert result["narrative_ids"][0] == result["narrative_ids"][1]


class TestListNarratives:
    def _seed(self, project: ProjectHandle) -> None:
        batch = [
            story(
                "a",
                attributes={"role": "nurse", "site": "North"},
                occurred_at="2026-01-05T10:00:00Z",
            ),
            story(
                "b",
                attributes={"role": "manager", "site": "North"},
                occurred_at="2026-02-05T10:00:00Z",
            ),
            story(
                "c",
                attributes={"role": "nurse", "site": "South"},
                occurred_at="2026-03-05T10:00:00Z",
            ),
            story("d", attributes={"years": 3}),
        ]
        assert project.post("/narratives", {"narratives": batch}).status_code == 201

    def test_filters(self, project: ProjectHandle) -> None:
        self._seed(project)

        def texts(**params: Any) -> list[str]:
            return [n["text"] for n in project.get("/narratives", **params).json()["items"]]

        assert texts(attribute="role:nurse") == ["a", "c"]
        assert texts(attribute=["role:nurse", "site:South"]) == ["c"]
        assert texts(attribute="years:3") == ["d"]
        assert texts(since="2026-02-01T00:00:00Z") == ["b", "c"]
        assert texts(until="2026-02-01T00:00:00Z") == ["a"]
        assert texts(since="2026-02-01T00:00:00Z", until="2026-03-01T00:00:00Z") == ["b"]

    def test_source_filter(self, project: ProjectHandle) -> None:
        self._seed(project)
        other = project.post("/narratives", {"narratives": [story("e")]}).json()
        items = project.get("/narratives", source_id=other["source_id"]).json()["items"]
        assert [n["text"] for n in items] == ["e"]

    def test_pagination(self, project: ProjectHandle) -> None:
        self._seed(project)
        page = project.get("/narratives", limit=3, offset=2).json()
        assert page["total"] == 4
        assert [n["text"] for n in page["items"]] == ["c", "d"]

    def test_bad_attribute_filter(self, project: ProjectHandle) -> None:
        response = project.get("/narratives", attribute="nurse")
        assert response.status_code == 422
        assert "key:value" in response.json()["detail"]

    def test_other_projects_narrative_is_404(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        self._seed(project)
        narrative_id = project.get("/narratives").json()["items"][0]["id"]
        from tests.conftest import make_project

        other = make_project(client, "Other")
        assert other.get(f"/narratives/{narrative_id}").status_code == 404


class TestEmbeddingOnIngest:
    def test_embedding_job_runs_and_cache_avoids_reembedding(
        self, project: ProjectHandle, embedder: CountingEmbedder
    ) -> None:
        texts = [
            "Beds were blocked all week",
            "We shared a waiting list",
            "Beds were blocked all week",
        ]
        batch = [story(t, author=f"author {i}") for i, t in enumerate(texts)]
        first = project.post("/narratives", {"narratives": batch}).json()
        assert first["created"] == 3
        job = wait_for_job(project.client, project.admin_key, first["job"]["id"])
        assert job["status"] == "succeeded", job
        assert job["progress_done"] == job["progress_total"] == 2  # two distinct texts
        assert sorted(embedder.texts_embedded) == sorted(set(texts))

        # the same texts again (new authors, so new narratives), plus one new text
        more = [story(t, author="someone else") for t in texts] + [story("A new story")]
        second = project.post("/narratives", {"narratives": more}).json()
        assert second["created"] == 3
        wait_for_job(project.client, project.admin_key, second["job"]["id"])
        assert embedder.texts_embedded.count("Beds were blocked all week") == 1
        assert embedder.texts_embedded[-1:] == ["A new story"]

    def test_cache_is_shared_across_projects(
        self, client: TestClient, project: ProjectHandle, embedder: CountingEmbedder
    ) -> None:
        from tests.conftest import make_project

        one = project.post("/narratives", {"narratives": [story("shared words")]}).json()
        wait_for_job(client, project.admin_key, one["job"]["id"])
        other = make_project(client, "Other")
        two = other.post("/narratives", {"narratives": [story("shared words")]}).json()
        job = wait_for_job(client, other.admin_key, two["job"]["id"])
        assert job["result"]["embedded"] == 0
        assert embedder.texts_embedded == ["shared words"]
