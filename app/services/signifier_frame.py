"""The signifier explorer's view of a project: every narrative id and, per declared signifier,
its stored values as arrays ("not applicable" kept apart), cached until something changes."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Narrative, Project, Signifier, SignifierValue

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: points drawn per plot at most (a fixed random sample of the answers beyond it)
POINT_CAP = 3000

# --- the project's values, loaded once per change ------------------------------------------


@dataclass
class Declared:
    key: str
    kind: str
    label: str
    definition: dict[str, Any]

    @property
    def options(self) -> list[tuple[str, str]]:
        found = self.definition.get("options") or []
        return [(str(o["key"]), str(o.get("label") or o["key"])) for o in found if "key" in o]

    @property
    def stones(self) -> list[tuple[str, str]]:
        found = self.definition.get("stones") or []
        return [(str(s["key"]), str(s.get("label") or s["key"])) for s in found if "key" in s]


@dataclass
class Frame:
    """Every narrative id (sorted) and, per signifier, its values in that order."""

    ids: npt.NDArray[np.int64]
    declared: list[Declared]
    raw: dict[str, list[Any]] = field(default_factory=dict)
    not_applicable: dict[str, BoolArray] = field(default_factory=dict)
    triads: dict[str, FloatArray] = field(default_factory=dict)
    dyads: dict[str, FloatArray] = field(default_factory=dict)
    stones: dict[str, FloatArray] = field(default_factory=dict)  # "key/stone" -> (n, 2)
    chosen: dict[str, BoolArray] = field(default_factory=dict)  # mcq -> (n, options)

    def index(self, ids: Any) -> BoolArray:
        return np.isin(self.ids, np.fromiter(ids, dtype=np.int64))


_frames: OrderedDict[tuple[str, str], Frame] = OrderedDict()
_frames_lock = threading.Lock()


def declared(session: Session, project: Project) -> list[Declared]:
    rows = session.scalars(
        select(Signifier)
        .where(Signifier.project_id == project.id)
        .order_by(Signifier.position, Signifier.id)
    )
    return [Declared(s.key, s.kind.value, s.label or s.key, dict(s.definition or {})) for s in rows]


def _version(session: Session, project: Project, found: list[Declared]) -> str:
    """Changes whenever narratives, values, signifiers or the latest analysis change."""
    count, top = session.execute(
        select(func.count(), func.max(Narrative.id)).where(Narrative.project_id == project.id)
    ).one()
    values = session.scalar(
        select(func.count())
        .select_from(SignifierValue)
        .join(Signifier, Signifier.id == SignifierValue.signifier_id)
        .where(Signifier.project_id == project.id)
    )
    described = json.dumps([(d.key, d.kind, d.definition) for d in found], sort_keys=True)
    digest = hashlib.sha256(described.encode()).hexdigest()[:16]
    return f"{count}:{top}:{values}:{digest}"


def frame(session: Session, project: Project) -> Frame:
    """The project's values as arrays, cached until something changes."""
    found = declared(session, project)
    cache_key = (project.id, _version(session, project, found))
    with _frames_lock:
        if cache_key in _frames:
            _frames.move_to_end(cache_key)
            return _frames[cache_key]
    loaded = _load(session, project, found)
    with _frames_lock:
        _frames[cache_key] = loaded
        while len(_frames) > 8:
            _frames.popitem(last=False)
    return loaded


def _load(session: Session, project: Project, found: list[Declared]) -> Frame:
    ids = np.asarray(
        session.scalars(
            select(Narrative.id).where(Narrative.project_id == project.id).order_by(Narrative.id)
        ).all(),
        dtype=np.int64,
    )
    n = ids.size
    out = Frame(ids=ids, declared=found)
    by_id = {
        sid: key
        for sid, key in session.execute(
            select(Signifier.id, Signifier.key).where(Signifier.project_id == project.id)
        )
    }
    for d in found:
        out.raw[d.key] = [None] * n
        out.not_applicable[d.key] = np.zeros(n, dtype=bool)
    rows = session.execute(
        select(
            SignifierValue.narrative_id,
            SignifierValue.signifier_id,
            SignifierValue.not_applicable,
            SignifierValue.value,
        ).where(SignifierValue.signifier_id.in_(list(by_id)))
    ).all()
    positions = np.searchsorted(ids, np.asarray([r[0] for r in rows], dtype=np.int64))
    for (_, sid, na, value), i in zip(rows, positions.tolist(), strict=True):
        key = by_id[sid]
        if na:
            out.not_applicable[key][i] = True
        else:
            out.raw[key][i] = value
    for d in found:
        raw = out.raw[d.key]
        if d.kind == "triad":
            tri = np.full((n, 3), np.nan)
            for i, v in enumerate(raw):
                if isinstance(v, list) and len(v) == 3:
                    tri[i] = v
            out.triads[d.key] = tri
        elif d.kind == "dyad":
            out.dyads[d.key] = np.asarray(
                [v if isinstance(v, int | float) else np.nan for v in raw], dtype=float
            )
        elif d.kind == "stones":
            seen = {k for v in raw if isinstance(v, dict) for k in v}
            for stone in [k for k, _ in d.stones] or sorted(seen):
                xy = np.full((n, 2), np.nan)
                for i, v in enumerate(raw):
                    if isinstance(v, dict) and isinstance(v.get(stone), dict):
                        xy[i] = (v[stone]["x"], v[stone]["y"])
                out.stones[f"{d.key}/{stone}"] = xy
        elif d.kind == "mcq":
            position = {k: j for j, (k, _) in enumerate(d.options)}
            chosen = np.zeros((n, len(position)), dtype=bool)
            for i, v in enumerate(raw):
                for o in [v] if isinstance(v, str) else v if isinstance(v, list) else []:
                    if o in position:
                        chosen[i, position[o]] = True
            out.chosen[d.key] = chosen
    return out


def shown_points(n_answered: int, seed_text: str) -> npt.NDArray[np.int64]:
    """Which of the answered points are drawn: all, or a fixed sample of POINT_CAP."""
    if n_answered <= POINT_CAP:
        return np.arange(n_answered, dtype=np.int64)
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little")
    picked = np.random.default_rng(seed).choice(n_answered, POINT_CAP, replace=False)
    return np.sort(picked).astype(np.int64)


def plane(key: str, fr: Frame) -> tuple[FloatArray, BoolArray] | None:
    """2-D positions of a triad (on the triangle) or a stone, and which narratives have one."""
    if key in fr.triads:
        tri = fr.triads[key]
        xy = np.stack([tri[:, 1] + tri[:, 0] / 2, tri[:, 0] * np.sqrt(3) / 2], axis=1)
    elif key in fr.stones:
        xy = fr.stones[key]
    else:
        return None
    return xy, np.all(np.isfinite(xy), axis=1)
