"""The signifier explorer: a project's signifier values under a selection (A) and a comparison
group (B, by default everyone else), the stories behind the selection, and the theme-vs-rest
tests of `pipelines.signals` run on A against B at request time."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from scipy.spatial import cKDTree
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.errors import UnprocessableEntity
from app.schemas.common import RowId
from app.services import analyses
from app.services.narratives import NarrativeFilter, filtered
from app.services.signifier_frame import (
    POINT_CAP,
    BoolArray,
    Declared,
    FloatArray,
    Frame,
    declared,
    frame,
    plane,
    shown_points,
)
from app.services.themes import get_theme, snippet
from models import (
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    Project,
    Theme,
    ThemeAssignment,
)
from pipelines.signals import (
    BAND_NAMES,
    QUADRANTS,
    ZONES,
    Signal,
    correct_together,
    signifier_signals,
)
from pipelines.signals import geometric_mean as triad_centre
from pipelines.signals import zones as triad_zones
from pipelines.signals._core import jsonable

#: fewer stories than this in a selection and no pattern is drawn
MIN_SELECTION = 5
#: each side of a comparison needs this many stories (the detectors' own least count)
MIN_COMPARE = 20
#: stories per page of the list
PAGE_SIZE = 20
#: subdivisions of each side of the triangle for the density grid
GRID = 8
#: the permutations of a comparison are cut so that it answers within about a second
PERMUTATION_BUDGET = 2_500_000
BAND_LABELS = ("0-20%", "20-40%", "40-60%", "60-80%", "80-100%")
TESTED = ("triad", "dyad", "stones", "mcq")
BAND_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


# --- requests ------------------------------------------------------------------------------


class AnswerFilter(BaseModel):
    """An answer: a multiple-choice option (`option`) or a dyad range (`low` to `high`)."""

    signifier: str = Field(max_length=100)
    option: str | None = Field(default=None, max_length=200)
    low: float | None = Field(default=None, ge=0, le=1)
    high: float | None = Field(default=None, ge=0, le=1)


class RegionFilter(BaseModel):
    """The points drawn inside a lasso or box on a plot (a triad, or `stones_key/stone`)."""

    signifier: str = Field(max_length=201)
    ids: list[RowId] = Field(default_factory=list, max_length=POINT_CAP)


class SelectionSpec(BaseModel):
    """One group of stories: every filter given must hold."""

    answers: list[AnswerFilter] = Field(default_factory=list, max_length=10)
    attributes: list[str] = Field(default_factory=list, max_length=10)
    theme: str | None = Field(default=None, max_length=64)
    session_id: RowId | None = None
    region: RegionFilter | None = None


class ExplorerRequest(BaseModel):
    a: SelectionSpec = Field(default_factory=SelectionSpec)
    #: None: B is everyone not in A
    b: SelectionSpec | None = None
    stories_of: Literal["a", "b"] = "a"
    offset: int = Field(default=0, ge=0)


def _region(fr: Frame, region: RegionFilter) -> BoolArray:
    """The narratives inside a drawn region: those whose nearest drawn point was inside it
    (exactly the selected points when every point is drawn)."""
    found = plane(region.signifier, fr)
    if found is None:
        raise UnprocessableEntity(f"no triad or stone {region.signifier!r} to select a region on")
    xy, ok = found
    answered = np.flatnonzero(ok)
    shown = answered[shown_points(answered.size, region.signifier)]
    picked = fr.index(region.ids)[shown]
    out = np.zeros(fr.ids.size, dtype=bool)
    if not picked.any():
        return out
    _, nearest = cKDTree(xy[shown]).query(xy[answered])
    out[answered] = picked[np.asarray(nearest, dtype=np.int64)]
    return out


def _answer(fr: Frame, answer: AnswerFilter) -> BoolArray:
    if answer.signifier in fr.chosen:
        d = next(d for d in fr.declared if d.key == answer.signifier)
        keys = [k for k, _ in d.options]
        if answer.option not in keys:
            raise UnprocessableEntity(f"{answer.signifier!r} has no option {answer.option!r}")
        return fr.chosen[answer.signifier][:, keys.index(answer.option)].copy()
    if answer.signifier in fr.dyads:
        low, high = answer.low or 0.0, 1.0 if answer.high is None else answer.high
        x = fr.dyads[answer.signifier]
        with np.errstate(invalid="ignore"):
            return (x >= low) & ((x < high) | ((high >= 1.0) & (x <= 1.0)))
    raise UnprocessableEntity(
        f"{answer.signifier!r} is not a multiple-choice question or a dyad of this project"
    )


def mask(session: Session, project: Project, fr: Frame, spec: SelectionSpec) -> BoolArray:
    """Which narratives the group holds."""
    out = np.ones(fr.ids.size, dtype=bool)
    pairs = []
    for text in spec.attributes:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise UnprocessableEntity(f"an attribute filter is key=value; got {text!r}")
        pairs.append((key, value))
    if pairs or spec.session_id is not None:
        flt = NarrativeFilter(attributes=pairs, session_id=spec.session_id)
        kept = session.scalars(filtered(project, flt).with_only_columns(Narrative.id)).all()
        out &= fr.index(kept)
    if spec.theme:
        latest = analyses.latest(session, project)
        if latest is None:
            raise UnprocessableEntity("there is no analysis yet, so no theme to filter by")
        theme = get_theme(session, latest, spec.theme)
        members = session.scalars(
            select(ThemeAssignment.narrative_id).where(
                ThemeAssignment.analysis_id == latest.id,
                or_(ThemeAssignment.theme_id == theme.id, ThemeAssignment.subtheme_id == theme.id),
            )
        ).all()
        out &= fr.index(members)
    for answer in spec.answers:
        out &= _answer(fr, answer)
    if spec.region is not None:
        out &= _region(fr, spec.region)
    return out


def _groups(
    session: Session, project: Project, fr: Frame, request: ExplorerRequest
) -> tuple[BoolArray, BoolArray]:
    a = mask(session, project, fr, request.a)
    b = ~a if request.b is None else mask(session, project, fr, request.b)
    return a, b


# --- what the plots draw -------------------------------------------------------------------


def _rounded(values: FloatArray) -> list[Any]:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values.ravel()]


def _group_codes(a: BoolArray, b: BoolArray) -> npt.NDArray[np.int64]:
    """0 for A, 1 for B only, -1 for neither (stories in both count as A)."""
    return np.where(a, 0, np.where(b, 1, -1)).astype(np.int64)


def _points(fr: Frame, key: str, ok: BoolArray, codes: npt.NDArray[np.int64]) -> dict[str, Any]:
    answered = np.flatnonzero(ok)
    shown = answered[shown_points(answered.size, key)]
    return {
        "ids": fr.ids[shown].tolist(),
        "group": codes[shown].tolist(),
        "shown": int(shown.size),
        "answered": int(answered.size),
    }


def _density(tri: FloatArray) -> list[dict[str, Any]]:
    """Counts on a triangular grid: GRID^2 small triangles, each with its corners (a, b, c)."""
    if tri.shape[0] == 0:
        return []
    u, v = tri[:, 0] * GRID, tri[:, 1] * GRID
    i, j = np.floor(u).clip(0, GRID - 1), np.floor(v).clip(0, GRID - 1)
    over = i + j > GRID - 1
    j = np.where(over, GRID - 1 - i, j)
    up = ((u - i) + (v - j) < 1) | (i + j >= GRID - 1)
    counts: dict[tuple[int, int, bool], int] = {}
    for cell in zip(i.astype(int).tolist(), j.astype(int).tolist(), up.tolist(), strict=True):
        counts[cell] = counts.get(cell, 0) + 1
    cells = []
    for (ci, cj, cup), count in sorted(counts.items()):
        corners = (
            [(ci, cj), (ci + 1, cj), (ci, cj + 1)]
            if cup
            else [(ci + 1, cj), (ci, cj + 1), (ci + 1, cj + 1)]
        )
        cells.append(
            {
                "count": count,
                "corners": [[a / GRID, b / GRID, (GRID - a - b) / GRID] for a, b in corners],
            }
        )
    return cells


def _triad(fr: Frame, d: Declared, a: BoolArray, b: BoolArray) -> dict[str, Any]:
    tri = fr.triads[d.key]
    ok = np.all(np.isfinite(tri), axis=1)
    codes = _group_codes(a, b)
    points = _points(fr, d.key, ok, codes)
    shown = fr.index(points["ids"])
    out: dict[str, Any] = {
        **points,
        "parts": _rounded(tri[shown]),
        "anchors": [str(x) for x in d.definition.get("anchors", ["", "", ""])],
        "density": _density(tri[ok]),
        "groups": {},
    }
    for name, group in (("a", a), ("b", b)):
        x = tri[group & ok]
        z = np.bincount(triad_zones(x), minlength=7) / max(1, x.shape[0])
        out["groups"][name] = {
            "n": int(x.shape[0]),
            "not_applicable": int((group & fr.not_applicable[d.key]).sum()),
            "centre": _rounded(triad_centre(x)) if x.shape[0] else None,
            "zones": dict(zip(ZONES, _rounded(z), strict=True)),
        }
    return out


def _dyad(fr: Frame, d: Declared, a: BoolArray, b: BoolArray) -> dict[str, Any]:
    x = fr.dyads[d.key]
    ok = np.isfinite(x)
    edges = np.linspace(0, 1, 21)
    out: dict[str, Any] = {
        "poles": [str(p) for p in d.definition.get("poles", ["", ""])],
        "bins": _rounded(edges),
        "bands": list(BAND_NAMES),
        "band_labels": list(BAND_LABELS),
        "groups": {},
    }
    for name, group in (("a", a), ("b", b)):
        v = x[group & ok]
        hist = np.histogram(v, bins=edges)[0] / max(1, v.size)
        bands = np.histogram(v, bins=np.asarray(BAND_EDGES))[0] / max(1, v.size)
        out["groups"][name] = {
            "n": int(v.size),
            "not_applicable": int((group & fr.not_applicable[d.key]).sum()),
            "histogram": _rounded(hist),
            "bands": _rounded(bands),
            "mean": round(float(v.mean()), 4) if v.size else None,
        }
    return out


def _stones(fr: Frame, d: Declared, a: BoolArray, b: BoolArray) -> dict[str, Any]:
    codes = _group_codes(a, b)
    axes = d.definition.get("axes") or {}
    out: dict[str, Any] = {"stones": [], "axes": axes, "quadrants": list(QUADRANTS)}
    labels = dict(d.stones)
    for key, xy in fr.stones.items():
        if not key.startswith(d.key + "/"):
            continue
        stone = key.split("/", 1)[1]
        ok = np.all(np.isfinite(xy), axis=1)
        points = _points(fr, key, ok, codes)
        shown = fr.index(points["ids"])
        entry: dict[str, Any] = {
            "key": key,
            "label": labels.get(stone, stone),
            **points,
            "xy": _rounded(xy[shown]),
            "groups": {},
        }
        for name, group in (("a", a), ("b", b)):
            p = xy[group & ok]
            q = (p[:, 0] >= 0.5).astype(int) + 2 * (p[:, 1] >= 0.5).astype(int)
            shares = np.bincount(q, minlength=4) / max(1, q.size)
            entry["groups"][name] = {"n": int(q.size), "quadrants": _rounded(shares)}
        out["stones"].append(entry)
    return out


def _mcq(fr: Frame, d: Declared, a: BoolArray, b: BoolArray) -> dict[str, Any]:
    chosen = fr.chosen[d.key]
    answered = chosen.any(axis=1)
    out: dict[str, Any] = {
        "options": [{"key": k, "label": label} for k, label in d.options],
        "multiple": bool(d.definition.get("multiple")),
        "groups": {},
    }
    for name, group in (("a", a), ("b", b)):
        rows = chosen[group & answered]
        out["groups"][name] = {
            "n": int(rows.shape[0]),
            "counts": rows.sum(axis=0).astype(int).tolist(),
            "shares": _rounded(rows.mean(axis=0)) if rows.shape[0] else [0.0] * len(d.options),
        }
    return out


_SHAPERS = {"triad": _triad, "dyad": _dyad, "stones": _stones, "mcq": _mcq}


def stories(
    session: Session, fr: Frame, group: BoolArray, offset: int, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """A page of the group's stories (oldest id first) as snippets."""
    ids = fr.ids[group]
    page = ids[offset : offset + limit].tolist()
    rows = {
        n.id: n
        for n in session.execute(
            select(Narrative.id, Narrative.title, Narrative.text).where(Narrative.id.in_(page))
        )
    }
    return {
        "total": int(ids.size),
        "offset": offset,
        "limit": limit,
        "items": [
            {"id": i, "title": rows[i].title, "snippet": snippet(rows[i].text, 220)}
            for i in page
            if i in rows
        ],
    }


def selection(session: Session, project: Project, request: ExplorerRequest) -> dict[str, Any]:
    """What the explorer draws for the groups of `request`, and a page of the stories."""
    fr = frame(session, project)
    a, b = _groups(session, project, fr, request)
    n_a, n_b = int(a.sum()), int(b.sum())
    notes = []
    if n_a < MIN_SELECTION:
        notes.append(
            f"This selection holds {n_a} {'story' if n_a == 1 else 'stories'}; patterns are "
            f"drawn from {MIN_SELECTION} stories up. Remove a filter or draw a wider region."
        )
    charts = {
        d.key: {"key": d.key, "kind": d.kind, "label": d.label, **_SHAPERS[d.kind](fr, d, a, b)}
        for d in fr.declared
        if d.kind in _SHAPERS
    }
    out: dict[str, Any] = jsonable(
        {
            "total": int(fr.ids.size),
            "a": n_a,
            "b": n_b,
            "both": int((a & b).sum()),
            "b_is_rest": request.b is None,
            "enough": n_a >= MIN_SELECTION,
            "min_selection": MIN_SELECTION,
            "notes": notes,
            "charts": charts,
            "stories": stories(
                session, fr, a if request.stories_of == "a" else b & ~a, request.offset
            ),
        }
    )
    return out


# --- comparing A with B --------------------------------------------------------------------


def permutations_for(n: int, n_permutation_tests: int) -> int:
    """Permutations per test so the comparison stays within its time budget (99 to 999)."""
    per_test = PERMUTATION_BUDGET // max(1, n * max(1, n_permutation_tests))
    return int(min(999, max(99, per_test)))


def _finding(signal: Signal, d: Declared) -> dict[str, Any]:
    ev = signal.evidence
    if signal.kind == "triad_shift":
        theme, rest = ev["theme"], ev["rest"]
        n = (theme["n"], rest["n"])
        detail = {"a": theme["geometric_mean"], "b": rest["geometric_mean"]}
    elif signal.kind == "dyad_shift":
        n = (ev["summary"]["n"], ev["rest"]["n"])
        detail = {"a": ev["summary"]["mean"], "b": ev["rest"]["mean"]}
    else:
        table = ev.get("table") or [[0], [0]]
        n = (int(sum(table[0])), int(sum(table[1])))
        shares = ev.get("shares") or {}
        detail = {
            "option": ev.get("option"),
            "a": ev.get("theme_share", shares.get("theme")),
            "b": ev.get("rest_share", shares.get("rest")),
            "drivers": ev.get("drivers", []),
        }
    return {
        "signifier": d.key,
        "label": d.label,
        "kind": d.kind,
        "subject": signal.subject,
        "test": signal.test,
        "strength": round(signal.strength, 4),
        "strength_name": signal.strength_name,
        "p_value": signal.p_value,
        "p_adjusted": signal.p_adjusted,
        "flagged": signal.flagged,
        "n_a": n[0],
        "n_b": n[1],
        "detail": detail,
    }


def compare(session: Session, project: Project, request: ExplorerRequest) -> dict[str, Any]:
    """The theme-vs-rest tests of every signifier with A as the theme and B as the rest.

    Stories in both groups are left out of the tests; p-values are corrected (Holm) over every
    test of the comparison."""
    started = time.perf_counter()
    fr = frame(session, project)
    a, b = _groups(session, project, fr, request)
    both = a & b
    only_a, only_b = a & ~both, b & ~both
    n_a, n_b = int(only_a.sum()), int(only_b.sum())
    base: dict[str, Any] = {
        "a": n_a,
        "b": n_b,
        "both": int(both.sum()),
        "b_is_rest": request.b is None,
        "min_compare": MIN_COMPARE,
    }
    if min(n_a, n_b) < MIN_COMPARE:
        return {**base, "enough": False, "findings": [], "n_permutations": 0}
    rows = np.flatnonzero(only_a | only_b)
    labels = np.where(only_a[rows], 0, -1)
    tested = [d for d in fr.declared if d.kind in TESTED]
    heavy = sum(1 for d in tested if d.kind == "triad") + 1
    n_perm = permutations_for(rows.size, heavy)
    signals: list[tuple[Signal, Declared]] = []
    for d in tested:
        values: Any
        if d.kind == "triad":
            values = fr.triads[d.key][rows]
        elif d.kind == "dyad":
            values = fr.dyads[d.key][rows]
        else:
            raw = fr.raw[d.key]
            values = [raw[i] for i in rows.tolist()]
        options: dict[str, Any] = {} if d.kind == "dyad" else {"n_permutations": n_perm}
        found = signifier_signals(
            d.kind, values, labels, key=d.key, definition=d.definition, **options
        )
        signals += [(s, d) for s in found if s.kind != "dyad_polarised"]
    corrected = correct_together([s for s, _ in signals])
    findings = [_finding(s, d) for s, (_, d) in zip(corrected, signals, strict=True)]
    findings.sort(key=lambda f: (not f["flagged"], f["p_adjusted"] or 1.0))
    out: dict[str, Any] = jsonable(
        {
            **base,
            "enough": True,
            "findings": findings,
            "n_tests": len(findings),
            "n_permutations": n_perm,
            "correction": "holm",
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return out


# --- the page ------------------------------------------------------------------------------


def page_context(session: Session, project: Project) -> dict[str, Any]:
    """What the page renders before its script runs: signifiers and the filters' choices."""
    found = [d for d in declared(session, project) if d.kind in _SHAPERS]
    n_narratives = (
        session.scalar(select(func.count()).where(Narrative.project_id == project.id)) or 0
    )
    attributes = session.execute(
        select(NarrativeAttribute.key, NarrativeAttribute.value, func.count())
        .where(NarrativeAttribute.project_id == project.id)
        .group_by(NarrativeAttribute.key, NarrativeAttribute.value)
        .order_by(NarrativeAttribute.key, func.count().desc())
        .limit(300)
    ).all()
    meetings = session.execute(
        select(MeetingSession.id, MeetingSession.name, MeetingSession.held_on)
        .where(MeetingSession.project_id == project.id)
        .order_by(MeetingSession.held_on, MeetingSession.id)
    ).all()
    latest = analyses.latest(session, project)
    themes = (
        []
        if latest is None
        else list(
            session.scalars(
                select(Theme)
                .where(Theme.analysis_id == latest.id, Theme.level == 0)
                .order_by(Theme.size.desc(), Theme.key)
            )
        )
    )
    return {
        "signifiers": found,
        "n_narratives": n_narratives,
        "attributes": [(k, v, int(c)) for k, v, c in attributes],
        "sessions": [
            (sid, name + (f" ({held.isoformat()})" if held else "")) for sid, name, held in meetings
        ],
        "themes": [(t.key, t.label, t.size) for t in themes],
        "band_labels": BAND_LABELS,
        "band_edges": BAND_EDGES,
        "min_selection": MIN_SELECTION,
        "min_compare": MIN_COMPARE,
    }
