"""Curation through the API: every edit, then two re-analyses on more data; edits hold while
their keys continue and need a decision when they do not."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import ThemeEdit
from tests.app.curation_data import (
    TOPICS,
    add,
    analyse,
    curated,
    curation_client,
    keys_by_topic,
    themes,
)
from tests.conftest import ProjectHandle, auth, make_project

__all__ = ["curated", "curation_client"]


def patch(
    project: ProjectHandle, key: str, body: dict[str, Any], api_key: str | None = None
) -> Any:
    return project.client.patch(
        project.url(f"/themes/{key}"), json=body, headers=auth(api_key or project.admin_key)
    )


def by_key(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in page["themes"]}


def first_analysis(project: ProjectHandle, per_topic: int = 20) -> dict[str, int]:
    sources = {topic: add(project, topic, 0, per_topic) for topic in TOPICS}
    analyse(project, n_themes=4)
    return sources


def grow(project: ProjectHandle, round_: int, topics: list[str], n_themes: int) -> None:
    for topic in topics:
        add(project, topic, 100 * round_, 6)
    analyse(project, n_themes=n_themes)


class TestEditsHoldAcrossReanalyses:
    def test_every_edit_holds_while_keys_continue(self, curated: ProjectHandle) -> None:
        first_analysis(curated)
        keys = keys_by_topic(curated)
        assert set(keys) == {"care", "records", "food", "parking"}
        writer = curated.key("write")

        made = patch(curated, keys["records"], {"label": "IT trouble", "pinned": True}, writer)
        assert made.status_code == 200, made.text
        assert {e["kind"] for e in made.json()["edits"]} == {"label", "pinned"}
        hide = patch(curated, keys["parking"], {"hidden": True, "label": "Car park"}, writer)
        assert hide.status_code == 200, hide.text
        rename_undone = next(e for e in hide.json()["edits"] if e["kind"] == "label")
        undo = curated.post(f"/themes/edits/{rename_undone['id']}/undo", {}, writer)
        assert undo.status_code == 200 and undo.json()["status"] == "undone", undo.text
        split = curated.post(f"/themes/{keys['care']}/split", {}, writer)
        assert split.status_code == 201, split.text

        for round_ in (1, 2):
            self._assert_view(curated, keys)
            grow(curated, round_, list(TOPICS), n_themes=4)
            assert keys_by_topic(curated) == keys, "the data keeps its keys"
        self._assert_view(curated, keys)

    @staticmethod
    def _assert_view(project: ProjectHandle, keys: dict[str, str]) -> None:
        page = themes(project)
        listed = by_key(page)
        assert page["view"] == "curated" and page["needs_decision"] == []
        assert listed[keys["records"]]["label"] == "IT trouble"
        assert listed[keys["records"]]["pinned"] is True
        assert listed[keys["records"]]["machine_label"] != "IT trouble"
        # hidden: out of the list, counted, still in the denominator
        assert keys["parking"] not in listed and page["hidden"] == 1
        total = page["total_narratives"]
        assert sum(t["size"] for t in page["themes"]) < total - page["unclustered"]
        for theme in page["themes"]:
            assert abs(theme["share"] - theme["size"] / total) < 1e-9
        # split: the care theme shows as its two sub-themes
        assert keys["care"] not in listed
        lifted = [t for t in page["themes"] if t["split_from"] == keys["care"]]
        assert len(lifted) == 2 and all(t["level"] == 0 for t in lifted)
        machine = by_key(themes(project, view="machine"))
        assert keys["care"] in machine and keys["parking"] in machine
        assert machine[keys["records"]]["label"] == machine[keys["records"]]["machine_label"]
        hidden = project.get(f"/themes/{keys['parking']}").json()
        # the undone rename gave the machine's label back
        assert hidden["hidden"] is True and hidden["label"] == machine[keys["parking"]]["label"]

    def test_merge_holds_and_keeps_the_larger_key(self, curated: ProjectHandle) -> None:
        first_analysis(curated)
        add(curated, "food", 50, 10)
        analyse(curated, n_themes=4)
        keys = keys_by_topic(curated)
        machine = by_key(themes(curated, view="machine"))
        assert machine[keys["food"]]["size"] > machine[keys["parking"]]["size"]
        merged = curated.post(
            "/themes/merge", {"keys": [keys["parking"], keys["food"]], "label": "Visits"}
        )
        assert merged.status_code == 201, merged.text
        assert merged.json()["keys"][0] == keys["food"]
        history = curated.get(f"/themes/{keys['parking']}/history").json()
        assert any(e["kind"] == "curated_merge" for e in history["events"])
        assert [e["kind"] for e in history["edits"]] == ["merge"]
        assert history["edits"][0]["key_name"]

        for round_ in (1, 2):
            grow(curated, round_, list(TOPICS), n_themes=4)
            assert keys_by_topic(curated) == keys
            listed = by_key(themes(curated))
            one = listed[keys["food"]]
            assert keys["parking"] not in listed
            assert one["label"] == "Visits" and one["merged_from"] == [
                keys["food"],
                keys["parking"],
            ]
            machine = by_key(themes(curated, view="machine"))
            assert one["size"] == machine[keys["food"]]["size"] + machine[keys["parking"]]["size"]
            detail = curated.get(f"/themes/{keys['parking']}").json()
            assert detail["key"] == keys["food"] and detail["members_total"] == one["size"]
            assert any("merged" in note for note in detail["curation_notes"])


class TestEditsNeedingADecision:
    def test_edits_of_ended_keys_are_flagged_not_applied(self, curated: ProjectHandle) -> None:
        sources = first_analysis(curated)
        keys = keys_by_topic(curated)
        made = [
            patch(curated, keys["records"], {"label": "IT trouble", "pinned": True}),
            patch(curated, keys["parking"], {"hidden": True}),
            curated.post("/themes/merge", {"keys": [keys["food"], keys["parking"]]}),
            curated.post(f"/themes/{keys['care']}/split", {}),
        ]
        assert all(r.status_code in (200, 201) for r in made), [r.text for r in made]
        for topic in ("records", "staff", "food"):
            gone = curated.client.delete(
                curated.url(f"/uploads/{sources[topic]}"), headers=auth(curated.admin_key)
            )
            assert gone.status_code == 200, gone.text

        for round_ in (1, 2):
            grow(curated, round_, ["beds", "parking"], n_themes=2)
            page = themes(curated)
            flagged = {e["kind"]: e for e in page["needs_decision"]}
            # the records theme ended: its rename and pin wait; so does the merge of the
            # food theme, which ended too; care lost a half: its split waits; the hidden
            # theme continued and stays hidden
            assert set(flagged) == {"label", "pinned", "merge", "split"}, flagged
            assert all(e["reason"] for e in flagged.values())
            assert page["hidden"] == 1 and keys["parking"] not in by_key(page)
            assert all(t["label"] != "IT trouble" and not t["merged_from"] for t in page["themes"])
            assert all(t["split_from"] is None for t in page["themes"])

        listing = curated.get("/themes/edits").json()
        assert listing["needs_decision"] == 4
        label = next(e for e in listing["edits"] if e["kind"] == "label")
        kept = curated.post(f"/themes/edits/{label['id']}/confirm", {})
        assert kept.status_code == 409 and "undo" in kept.json()["detail"]
        dropped = curated.post(f"/themes/edits/{label['id']}/undo", {})
        assert dropped.status_code == 200 and dropped.json()["status"] == "undone"
        assert curated.get("/themes/edits").json()["needs_decision"] == 3


class TestAccess:
    def test_read_keys_get_403_and_other_projects_404(self, curated: ProjectHandle) -> None:
        first_analysis(curated, per_topic=12)
        key = themes(curated)["themes"][0]["key"]
        reader = curated.key("read")
        assert patch(curated, key, {"label": "x"}, reader).status_code == 403
        assert curated.post("/themes/merge", {"keys": [key, key + "x"]}, reader).status_code == 403
        assert curated.post(f"/themes/{key}/split", {}, reader).status_code == 403
        other = make_project(curated.client, name="Other CoP")
        assert patch(curated, key, {"label": "x"}, other.admin_key).status_code == 404
        made = patch(curated, key, {"label": "Named"}).json()["edits"][0]
        assert curated.post(f"/themes/edits/{made['id']}/undo", {}, reader).status_code == 403
        foreign = other.post(f"/themes/edits/{made['id']}/undo", {})
        assert foreign.status_code == 404
        assert themes(curated, reader)["themes"][0]["label"] == "Named"

    def test_bad_edits_say_what_to_fix(self, curated: ProjectHandle) -> None:
        before = curated.post("/themes/merge", {"keys": ["ta", "tb"]})
        assert before.status_code == 409 and "analysis" in before.json()["detail"]
        first_analysis(curated, per_topic=12)
        key = themes(curated)["themes"][0]["key"]
        empty = patch(curated, key, {})
        assert empty.status_code == 422
        assert empty.headers["content-type"].startswith("application/problem+json")
        assert patch(curated, key, {"hidden": "yes"}).status_code == 422
        assert patch(curated, "tnothere", {"label": "x"}).status_code == 404
        twice = curated.post("/themes/merge", {"keys": [key, key]})
        assert twice.status_code == 422
        assert curated.get("/themes/edits").json()["edits"] == []

    def test_deleting_the_project_takes_its_edits(
        self, curated: ProjectHandle, engine: Engine
    ) -> None:
        first_analysis(curated, per_topic=12)
        key = themes(curated)["themes"][0]["key"]
        assert patch(curated, key, {"label": "Named", "hidden": True}).status_code == 200
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(ThemeEdit)) == 2
        gone = curated.client.delete(curated.url(), headers=auth(curated.admin_key))
        assert gone.status_code == 200, gone.text
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(ThemeEdit)) == 0


class TestCuratedViewEverywhere:
    def test_trends_tensions_and_exports_show_the_curated_view(
        self, curated: ProjectHandle
    ) -> None:
        first_analysis(curated)
        keys = keys_by_topic(curated)
        formula = '=HYPERLINK("http://x","records")'
        assert patch(curated, keys["records"], {"label": formula}).status_code == 200
        visits = curated.post(
            "/themes/merge", {"keys": [keys["food"], keys["parking"]], "label": "Visits"}
        )
        assert visits.status_code == 201, visits.text
        survivor = visits.json()["keys"][0]
        assert patch(curated, keys["care"], {"hidden": True}).status_code == 200

        machine = curated.get("/trends", by="period:month", view="machine").json()
        trends = curated.get("/trends", by="period:month").json()
        assert {t["key"] for t in machine["themes"]} == set(keys.values())
        rows = {t["key"]: t for t in trends["themes"]}
        assert set(rows) == {keys["records"], survivor}
        assert rows[keys["records"]]["label"] == formula
        assert rows[survivor]["label"] == "Visits"
        by_machine = {t["key"]: t["count"] for t in machine["themes"]}
        assert rows[survivor]["count"] == by_machine[keys["food"]] + by_machine[keys["parking"]]
        assert rows[survivor]["count"] > by_machine[keys["food"]] > 0
        # hidden themes leave the rows, never the totals
        assert trends["total_narratives"] == machine["total_narratives"]
        assert [c["total"] for c in trends["cells"]] == [c["total"] for c in machine["cells"]]
        assert any("hidden: 1" in note for note in trends["notes"])

        tensions = curated.get("/tensions").json()
        assert any("hidden: 1" in note for note in tensions["notes"])
        assert any("merged" in note for note in tensions["notes"])
        assert all(keys["care"] not in [t["key"] for t in s["themes"]] for s in tensions["signals"])

        exported = curated.get("/assignments").json()["assignments"]
        shown = {
            (r["theme_key"], r["curated_key"], r["curated_label"], r["hidden"]) for r in exported
        }
        assert (keys["parking"], survivor, "Visits", False) in shown
        assert (keys["care"], keys["care"], keys_label(curated, keys["care"]), True) in shown
        assert (keys["records"], keys["records"], formula, False) in shown
        as_csv = curated.client.get(
            curated.url("/assignments"),
            params={"format": "csv"},
            headers=auth(curated.admin_key),
        ).text
        rows_csv = list(csv.DictReader(io.StringIO(as_csv, newline="")))
        labels = {r["curated_label"] for r in rows_csv if r["theme_key"] == keys["records"]}
        assert labels == {"'" + formula}
        plain = curated.get("/assignments", view="machine").json()["assignments"]
        assert "curated_key" not in plain[0]


def keys_label(project: ProjectHandle, key: str) -> str:
    return str(project.get(f"/themes/{key}", view="machine").json()["label"])
