"""The assignments export: every narrative's themes in the latest analysis, as CSV or JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, sessionmaker

from app.schemas.curation import View
from app.services import analyses as analysis_service
from app.services import curation_view
from app.services.csv_safety import Cell, SafeCsvWriter
from models import Analysis, Narrative, Project, Theme, ThemeAssignment, ThemeMembership

Format = Literal["json", "csv"]

COLUMNS = (
    "narrative_id",
    "external_id",
    "theme_key",
    "subtheme_key",
    "probability",
    "incremental",
)
#: Soft membership in CSV: the second and third themes, flattened.
SOFT_COLUMNS = ("theme_2_key", "theme_2_probability", "theme_3_key", "theme_3_probability")
#: The curated view's theme of the narrative (a merge's, or a split theme's sub-theme), its
#: label and whether it is hidden; empty in the machine view.
CURATED_COLUMNS = ("curated_key", "curated_label", "hidden")

#: (curated key, curated label, hidden) of the theme a narrative is shown in
Curated = tuple[str, str, bool]


@dataclass(frozen=True)
class CuratedKeys:
    """Where the curated view shows each stored theme: by top-level key, and by sub-theme key
    for the themes a split shows as their sub-themes."""

    by_theme: dict[str, Curated]
    by_subtheme: dict[str, Curated]

    def of(self, theme_key: str | None, subtheme_key: str | None) -> Curated | None:
        if subtheme_key is not None and subtheme_key in self.by_subtheme:
            return self.by_subtheme[subtheme_key]
        return None if theme_key is None else self.by_theme.get(theme_key)


def curated_keys(session: Session, project: Project, analysis: Analysis) -> CuratedKeys:
    listing = curation_view.curated_themes(session, project, analysis)
    by_theme: dict[str, Curated] = {}
    by_subtheme: dict[str, Curated] = {}
    for entry in [*listing.themes, *listing.hidden]:
        shown = (entry.key, entry.label, entry.hidden)
        if entry.split_from is not None:
            by_subtheme[entry.key] = shown
        else:
            by_theme.update({c.theme.key: shown for c in entry.counts})
    return CuratedKeys(by_theme, by_subtheme)


@dataclass(frozen=True)
class AssignmentRow:
    narrative_id: int
    external_id: str | None
    theme_key: str | None
    subtheme_key: str | None
    probability: float
    incremental: bool
    #: (theme key, probability) of the narrative's top themes, its own first
    memberships: list[tuple[str, float]]


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    chunks: Iterator[str]


def iter_assignments(
    session_factory: sessionmaker[Session], analysis_id: int, chunk: int = 2000
) -> Iterator[list[AssignmentRow]]:
    """Every narrative's assignment in chunks, each chunk read in its own short session so a
    slow client holds no transaction open."""
    sub = aliased(Theme)
    last = 0
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(
                    ThemeAssignment.narrative_id,
                    Narrative.external_id,
                    Theme.key,
                    sub.key,
                    ThemeAssignment.probability,
                    ThemeAssignment.incremental,
                )
                .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
                .outerjoin(Theme, Theme.id == ThemeAssignment.theme_id)
                .outerjoin(sub, sub.id == ThemeAssignment.subtheme_id)
                .where(
                    ThemeAssignment.analysis_id == analysis_id,
                    ThemeAssignment.narrative_id > last,
                )
                .order_by(ThemeAssignment.narrative_id)
                .limit(chunk)
            ).all()
            if not rows:
                return
            soft: dict[int, list[tuple[str, float]]] = {}
            for narrative_id, key, probability in session.execute(
                select(ThemeMembership.narrative_id, Theme.key, ThemeMembership.probability)
                .join(Theme, Theme.id == ThemeMembership.theme_id)
                .where(
                    ThemeMembership.analysis_id == analysis_id,
                    ThemeMembership.narrative_id > last,
                    ThemeMembership.narrative_id <= rows[-1][0],
                )
                .order_by(ThemeMembership.narrative_id, ThemeMembership.rank)
            ):
                soft.setdefault(narrative_id, []).append((key, float(probability)))
        yield [
            AssignmentRow(r[0], r[1], r[2], r[3], float(r[4]), bool(r[5]), soft.get(r[0], []))
            for r in rows
        ]
        last = rows[-1][0]


def _csv(chunks: Iterator[list[AssignmentRow]], curated: CuratedKeys | None) -> Iterator[str]:
    """The header row, then one text chunk per chunk of rows; text cells are neutralised
    for spreadsheets (app/services/csv_safety.py), numbers written as numbers."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, float_format=".6f")
    writer.writerow(COLUMNS + SOFT_COLUMNS + CURATED_COLUMNS)
    for chunk in chunks:
        for r in chunk:
            soft: list[Cell] = [v for key, p in r.memberships[1:3] for v in (key, p)]
            soft += [None] * (len(SOFT_COLUMNS) - len(soft))
            shown = curated.of(r.theme_key, r.subtheme_key) if curated else None
            soft += list(shown) if shown else [None] * len(CURATED_COLUMNS)
            writer.writerow(
                [
                    r.narrative_id,
                    r.external_id,
                    r.theme_key,
                    r.subtheme_key,
                    r.probability,
                    r.incremental,
                    *soft,
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json(
    chunks: Iterator[list[AssignmentRow]], analysis_id: int, curated: CuratedKeys | None
) -> Iterator[str]:
    """One JSON object, ``{"analysis_id": ..., "assignments": [...]}``, written as it is read."""
    yield f'{{"analysis_id": {analysis_id}, "assignments": ['
    first = True
    for chunk in chunks:
        for r in chunk:
            shown = curated.of(r.theme_key, r.subtheme_key) if curated else None
            extra = dict(zip(CURATED_COLUMNS, shown, strict=True)) if shown else {}
            item = json.dumps(
                {
                    **extra,
                    "narrative_id": r.narrative_id,
                    "external_id": r.external_id,
                    "theme_key": r.theme_key,
                    "subtheme_key": r.subtheme_key,
                    "probability": round(r.probability, 6),
                    "incremental": r.incremental,
                    "memberships": [
                        {"theme_key": key, "probability": round(p, 6)} for key, p in r.memberships
                    ],
                }
            )
            yield item if first else "," + item
            first = False
    yield "]}"


def _before_any_analysis(notes: list[str]) -> Iterator[str]:
    yield json.dumps({"analysis_id": None, "analysis": None, "notes": notes, "assignments": []})


def assignments(
    session: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    format: Format,
    view: View = "curated",
) -> Export:
    """The latest analysis's assignments, streamed, with the curated view's theme of each
    narrative unless `view` is machine; before the first analysis, an empty export."""
    media_type = "text/csv" if format == "csv" else "application/json"
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        filename = f"weft-{project.id}-no-analysis.{format}"
        if format == "csv":
            return Export(filename, media_type, _csv(iter(()), None))
        notes = analysis_service.no_analysis_notes(session, project)
        return Export(filename, media_type, _before_any_analysis(notes))
    filename = f"weft-{project.id}-analysis-{analysis.id}.{format}"
    # the request's session ends before the body is sent, so rows are read in sessions of
    # their own; only the analysis id is carried over
    chunks = iter_assignments(session_factory, analysis.id)
    curated = curated_keys(session, project, analysis) if view == "curated" else None
    if format == "csv":
        return Export(filename, media_type, _csv(chunks, curated))
    return Export(filename, media_type, _json(chunks, analysis.id, curated))
