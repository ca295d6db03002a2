"""Analyses and what they found: themes, trends and tensions."""

from __future__ import annotations

import io
from enum import StrEnum
from typing import Annotated, Any

import typer

from app.cli.connection import Api, connected
from app.cli.console import Output, percent
from app.cli.waiting import job_failed, resume_hint, wait_for_job
from app.services.csv_safety import SafeCsvWriter

Wait = Annotated[bool, typer.Option(help="Follow the job to its end.")]


class Level(StrEnum):
    top = "top"
    leaf = "leaf"


class ThemesFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _finish_job(api: Api, job: dict[str, Any], wait: bool) -> None:
    if wait:
        job = wait_for_job(api, job["id"])
    if api.out.as_json:
        api.out.json(job)
    else:
        api.out.data(f"job {job['id']} {job['status']}")
    if job["status"] == "failed":
        raise job_failed(job)
    if not wait:
        api.out.message(f"follow it with: {resume_hint(job['id'])}")


@connected
def analyse(
    api: Api,
    n_themes: Annotated[int | None, typer.Option(help="Themes wanted; default: found.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same data + seed = same themes).")] = 0,
    wait: Wait = False,
) -> None:
    """Run an analysis: cluster the project's narratives into themes."""
    queued = api.post(api.in_project("/analyses"), {"n_themes": n_themes, "seed": seed})
    api.out.message(f"analysis {queued['analysis']['id']} queued")
    _finish_job(api, queued["job"], wait)


def _keywords(theme: dict[str, Any], n: int = 5) -> str:
    return ", ".join(k["term"] for k in theme["keywords"][:n])


def themes_csv(themes: list[dict[str, Any]]) -> str:
    """Themes as CSV, text cells neutralised against spreadsheet formulas."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.writerow(["key", "label", "level", "parent", "emerging", "size", "share", "keywords"])
    for t in themes:
        writer.writerow(
            [
                t["key"],
                t["label"],
                t["level"],
                t["parent"],
                t["emerging"],
                t["size"],
                float(t["share"]),
                "; ".join(k["term"] for k in t["keywords"]),
            ]
        )
    return buffer.getvalue()


def _notes(out: Output, page: dict[str, Any]) -> None:
    for note in page.get("notes") or []:
        out.message(f"note: {note}")


@connected
def themes(
    api: Api,
    level: Annotated[Level, typer.Option(help="top: themes; leaf: sub-themes.")] = Level.top,
    format: Annotated[ThemesFormat, typer.Option(help="table, json or csv.")] = ThemesFormat.table,
) -> None:
    """The latest analysis's themes, largest first."""
    path = api.in_project("/themes")
    first = api.get(path, level=level.value, limit=500)
    listed = list(first["themes"])
    if len(listed) < first["total"]:
        listed += list(api.pages(path, "themes", level=level.value, limit=500))[len(listed) :]
    if first["analysis"] is None:
        _notes(api.out, first)
    if format is ThemesFormat.json or api.out.as_json:
        api.out.json({**first, "themes": listed})
    elif format is ThemesFormat.csv:
        api.out.data(themes_csv(listed))
    else:
        rows = [
            [t["key"], t["label"], t["size"], percent(t["share"]), _keywords(t)] for t in listed
        ]
        api.out.table(["key", "label", "size", "share", "keywords"], rows)
        if first["analysis"] is not None:
            # what the table leaves out: lines set aside, narratives in no theme
            _notes(api.out, first)


@connected
def theme(api: Api, key: Annotated[str, typer.Argument(help="The theme's key.")]) -> None:
    """One theme: name, keywords, sub-themes, exemplars and signals."""
    found = api.get(api.in_project(f"/themes/{key}"))
    if api.out.as_json:
        api.out.json(found)
        return
    lines = [
        f"{found['key']}  {found['label']}",
        f"size {found['size']} ({percent(found['share'])}), level {found['level']}"
        + (f", in {found['parent']}" if found["parent"] else ""),
        f"keywords: {_keywords(found, 10)}",
    ]
    lines += [f"  sub-theme {c['key']}  {c['label']} ({c['size']})" for c in found["children"]]
    lines += [f"  > {e['snippet']}" for e in found["exemplars"]]
    lines += [
        f"  signal {s['kind']} on {s.get('subject') or '-'}"
        + (" (flagged)" if s.get("flagged") else "")
        for s in found.get("signals") or []
    ]
    api.out.data("\n".join(lines))


@connected
def trends(
    api: Api,
    by: Annotated[
        list[str], typer.Option(help="attribute:KEY, session or period:week|month|quarter.")
    ],
) -> None:
    """Each theme's share per group, session or period (two --by cross)."""
    page = api.get(api.in_project("/trends"), by=by)
    if api.out.as_json:
        api.out.json(page)
        return
    _notes(api.out, page)
    headers = ["theme", *(c["label"] for c in page["cells"]), "trend"]
    rows = [
        [
            t["label"],
            *(percent(c["share"]) for c in t["cells"]),
            "; ".join(r["reading"] for r in t["trends"]),
        ]
        for t in page["themes"]
    ]
    api.out.table(headers, rows)


@connected
def tensions(
    api: Api, flagged: Annotated[bool, typer.Option(help="Flagged signals only.")] = False
) -> None:
    """Tension and polarity signals of the latest analysis, flagged first."""
    listed = list(api.pages(api.in_project("/tensions"), "signals", flagged_only=flagged))
    if api.out.as_json:
        api.out.json(listed)
        return
    rows = [
        [
            s["kind"],
            ", ".join(t["label"] or t["key"] for t in s["themes"]),
            s["subject"] or s["attribute"] or "",
            f"{s['strength_name']} {s['strength']:.3g}",
            "" if s["p_adjusted"] is None else f"{s['p_adjusted']:.3g}",
            "yes" if s["flagged"] else "",
        ]
        for s in listed
    ]
    api.out.table(["kind", "themes", "subject", "strength", "p (adjusted)", "flagged"], rows)
