"""Analyses: queueing a clustering run, the steps of running one, and storing its themes,
assignments and lineage; the `analyze` job (app/jobs/handlers/analyze.py) runs the steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.jobs.kinds import JobKind
from app.schemas.common import JobRead
from app.schemas.themes import AnalysisCreate, AnalysisQueued, AnalysisRead
from app.services import analysis_state, curation_state, theme_keys
from app.services import jobs as jobs_service
from app.services import left_out as left_out_service
from app.services.embeddings import load_vectors, missing_texts
from app.services.theme_keys import PreviousAnalysis
from models import (
    Analysis,
    AnalysisStatus,
    Job,
    JobStatus,
    Narrative,
    Project,
    Theme,
    ThemeAssignment,
    ThemeLineage,
    ThemeMembership,
)
from models.base import utcnow
from pipelines.embed import Embedder, FloatMatrix
from pipelines.nonresponse import SIMILAR_TO_PLACEHOLDER
from pipelines.themes import ThemeResult, find_themes, library_versions
from pipelines.themes.cluster import AUTO_FIXED_MAX_N

#: A re-analysis keeps the previous level of detail up to this growth in narratives.
HOLD_MAX_GROWTH = 1.5
_VERSIONED = (
    "weft",
    "numpy",
    "scipy",
    "scikit-learn",
    "hdbscan",
    "umap-learn",
    "sentence-transformers",
    "torch",
)


@dataclass(frozen=True)
class AnalysisParams:
    n_themes: int | None = None
    seed: int = 0
    include_low_content: bool = False
    keep_level: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "n_themes": self.n_themes,
            "seed": self.seed,
            "include_low_content": self.include_low_content,
            "keep_level": self.keep_level,
        }

    @classmethod
    def from_row(cls, analysis: Analysis) -> AnalysisParams:
        """The parameters an analysis was requested with, as stored in its row."""
        requested = requested_parameters(analysis)
        n_themes = requested.get("n_themes")
        return cls(
            n_themes=n_themes if isinstance(n_themes, int) else None,
            seed=analysis.seed,
            include_low_content=bool(requested.get("include_low_content")),
            keep_level=bool(requested.get("keep_level", True)),
        )


def _section(analysis: Analysis, name: str) -> dict[str, Any]:
    value = analysis.parameters.get(name)
    return dict(value) if isinstance(value, Mapping) else {}


def requested_parameters(analysis: Analysis) -> dict[str, Any]:
    """The parameters as the request gave them (``parameters.requested``)."""
    return _section(analysis, "requested")


def used_parameters(analysis: Analysis) -> dict[str, Any]:
    """The parameters the clustering used, chosen ones included (``parameters.used``)."""
    return _section(analysis, "used")


def request_analysis(
    session: Session, project: Project, params: AnalysisParams, model_name: str, *, debounce: bool
) -> tuple[Analysis, Job]:
    """Queue an analysis; with `debounce`, an analysis still waiting in the queue is reused."""
    if debounce:
        waiting = session.execute(
            select(Analysis, Job)
            .join(Job, Job.id == Analysis.job_id)
            .where(
                Analysis.project_id == project.id,
                Analysis.status == AnalysisStatus.queued,
                Job.status == JobStatus.queued,
            )
            .order_by(Analysis.id.desc())
            .limit(1)
        ).first()
        if waiting is not None:
            return waiting[0], waiting[1]
    analysis = Analysis(
        project_id=project.id,
        status=AnalysisStatus.queued,
        parameters={"requested": params.as_json()},
        seed=params.seed,
        model_name=model_name,
    )
    session.add(analysis)
    session.flush()
    job = jobs_service.enqueue(
        session, JobKind.analyze, project_id=project.id, payload={"analysis_id": analysis.id}
    )
    analysis.job_id = job.id
    session.flush()
    return analysis, job


def request(
    session: Session, project: Project, body: AnalysisCreate, model_name: str
) -> AnalysisQueued:
    """Queue the analysis a request asks for (`POST /analyses`)."""
    params = AnalysisParams(
        n_themes=body.n_themes,
        seed=body.seed,
        include_low_content=body.include_low_content,
        keep_level=body.keep_level,
    )
    analysis, job = request_analysis(session, project, params, model_name, debounce=False)
    return AnalysisQueued(
        analysis=AnalysisRead.model_validate(analysis), job=JobRead.model_validate(job)
    )


def latest(session: Session, project: Project) -> Analysis | None:
    """The project's most recent analysis that finished successfully."""
    return session.scalars(
        select(Analysis)
        .where(Analysis.project_id == project.id, Analysis.status == AnalysisStatus.succeeded)
        .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
        .limit(1)
    ).first()


def no_analysis_notes(session: Session, project: Project) -> list[str]:
    """What every read of results (themes, tensions, trends, assignments) says while the
    project has no succeeded analysis: the answer is the usual page, empty, with
    ``"analysis": null`` and these notes."""
    last = analysis_state.newest(session, project)
    if last is not None and last.status in (AnalysisStatus.queued, AnalysisStatus.running):
        return [
            f"no analysis has finished yet: analysis {last.id} is {last.status.value}; "
            "results appear here when it succeeds"
        ]
    if last is not None and last.status == AnalysisStatus.failed:
        return [
            f"no analysis has finished yet: analysis {last.id} failed ({last.error}); "
            f"POST /v1/projects/{project.id}/analyses to run another"
        ]
    return [
        f"no analysis yet: POST /v1/projects/{project.id}/analyses to run one (with "
        "auto-analysis on, one starts when the first upload has been embedded)"
    ]


def get(session: Session, project: Project, analysis_id: int) -> Analysis:
    analysis = session.get(Analysis, analysis_id)
    if analysis is None or analysis.project_id != project.id:
        raise NotFound(f"analysis {analysis_id} not found")
    return analysis


def held_resolution(
    previous: PreviousAnalysis | None, n: int, params: AnalysisParams
) -> float | None:
    """The previous analysis's level of detail, when this one should keep it.

    Re-choosing the merge resolution on slightly more data can move many theme boundaries at
    once; holding it keeps themes comparable. It is held when the previous analysis chose it
    (more than ``AUTO_FIXED_MAX_N`` narratives, no ``n_themes``), this one has at most
    ``HOLD_MAX_GROWTH`` times as many narratives as the analysis that chose it (so a growing
    project gets a fresh choice at each half again) and no ``n_themes`` either, and the
    request did not ask for a fresh choice.
    """
    if previous is None or previous.resolution is None or params.n_themes is not None:
        return None
    if not params.keep_level or previous.chosen_at <= AUTO_FIXED_MAX_N:
        return None
    if n > HOLD_MAX_GROWTH * previous.chosen_at:
        return None
    return previous.resolution


def _load_previous(session: Session, analysis: Analysis | None) -> PreviousAnalysis | None:
    if analysis is None:
        return None
    centroids: dict[int, dict[str, np.ndarray]] = {0: {}, 1: {}}
    members: dict[int, dict[str, set[int]]] = {0: {}, 1: {}}
    key_of: dict[int, tuple[int, str]] = {}
    for theme_id, key, level, blob in session.execute(
        select(Theme.id, Theme.key, Theme.level, Theme.centroid).where(
            Theme.analysis_id == analysis.id
        )
    ):
        key_of[theme_id] = (level, key)
        members.setdefault(level, {})[key] = set()
        if blob:
            centroids.setdefault(level, {})[key] = np.frombuffer(blob, dtype="<f4")
    for narrative_id, top_id, sub_id in session.execute(
        select(
            ThemeAssignment.narrative_id, ThemeAssignment.theme_id, ThemeAssignment.subtheme_id
        ).where(ThemeAssignment.analysis_id == analysis.id)
    ):
        for owner in (top_id, sub_id):
            if owner is not None and owner in key_of:
                level, key = key_of[owner]
                members[level][key].add(narrative_id)
    used = used_parameters(analysis)
    told = AnalysisParams.from_row(analysis).n_themes is not None
    resolution = None if told else used.get("resolution_used")
    # the count it clustered, before any narratives were placed into it incrementally
    count = analysis.narrative_count - analysis.incremental_count
    chosen_at = used.get("resolution_chosen_at", count)
    return PreviousAnalysis(
        analysis.id,
        centroids,
        members,
        count,
        float(resolution) if isinstance(resolution, int | float) else None,
        int(chosen_at) if isinstance(chosen_at, int) else count,
    )


def _notes(n: int, result: ThemeResult, left: left_out_service.LeftOut) -> list[str]:
    """Plain-language remarks a reader of the result should see first."""
    notes: list[str] = [note] if (note := left.note()) else []
    if n == 0:
        notes.append("no narratives to analyse yet")
    elif not result.themes:
        notes.append(
            f"no themes: the {n} narratives are too few or too different to group; "
            "add more narratives and analyse again"
        )
    elif n < 30:
        notes.append(f"only {n} narratives: themes on so few are tentative")
    if n and result.unclustered_share > 0:
        notes.append(
            f"{result.unclustered_share:.0%} of narratives fit no theme and are left unclustered"
        )
    return notes


def mark_failed(session: Session, analysis_id: int, message: str) -> None:
    """The analysis ends `failed` with `message` (its job failed, or was abandoned)."""
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id)
        .values(status=AnalysisStatus.failed, error=message, finished_at=utcnow())
    )


@dataclass
class Prepared:
    """What an analysis run reads before computing: its narratives, the texts the embedding
    cache lacks and the previous analysis's themes (plain values, no session)."""

    analysis_id: int
    project_id: str
    params: AnalysisParams
    requested: dict[str, Any]
    ids: list[int]
    texts: list[str]
    hashes: list[str]
    missing: list[tuple[str, str]]
    previous: PreviousAnalysis | None
    left_out: left_out_service.LeftOut
    pinned: tuple[str, ...] = ()  # keys pinned by curation: see curation_state.pinned_rows


def stored_earlier(session: Session, analysis_id: int) -> bool:
    """Whether an earlier attempt of the analysis's job already stored its themes."""
    analysis = session.get(Analysis, analysis_id)
    return analysis is not None and analysis.status == AnalysisStatus.succeeded


def begin(session: Session, analysis_id: int, model: str) -> Prepared:
    """Mark the analysis running and read what it will cluster."""
    analysis = session.get_one(Analysis, analysis_id)
    analysis.status = AnalysisStatus.running
    params = AnalysisParams.from_row(analysis)
    project_id = analysis.project_id
    query = select(Narrative.id, Narrative.text, Narrative.text_hash).where(
        Narrative.project_id == project_id
    )
    if not params.include_low_content:
        query = query.where(Narrative.low_content.is_(False))
    rows = session.execute(query.order_by(Narrative.id)).all()
    previous = _load_previous(session, latest(session, session.get_one(Project, project_id)))
    return Prepared(
        analysis_id=analysis_id,
        project_id=project_id,
        params=params,
        requested=requested_parameters(analysis),
        ids=[r.id for r in rows],
        texts=[r.text for r in rows],
        hashes=[r.text_hash for r in rows],
        missing=missing_texts(session, project_id, model),
        previous=previous,
        left_out=(
            left_out_service.LeftOut()
            if params.include_low_content
            else left_out_service.stored(session, project_id)
        ),
        pinned=tuple(curation_state.pinned_keys(session, project_id)),
    )


def load_matrix(session: Session, prepared: Prepared, embedder: Embedder) -> FloatMatrix:
    """The cached vectors of the run's narratives, one row each, in order; placeholders that
    only their vectors reveal (repeated, close to "no answer" in any language) are set aside
    first, and counted in ``prepared.left_out``."""
    by_hash = load_vectors(session, embedder.name, prepared.hashes)
    if not prepared.hashes:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    X: FloatMatrix = np.stack([by_hash[h] for h in prepared.hashes])
    if prepared.params.include_low_content:
        return X
    keep = left_out_service.set_aside(prepared.left_out, prepared.ids, prepared.texts, X, embedder)
    if keep.all():
        return X
    prepared.ids = [i for i, k in zip(prepared.ids, keep, strict=True) if k]
    prepared.texts = [t for t, k in zip(prepared.texts, keep, strict=True) if k]
    prepared.hashes = [h for h, k in zip(prepared.hashes, keep, strict=True) if k]
    kept: FloatMatrix = X[keep]
    return kept


def cluster(prepared: Prepared, X: FloatMatrix, embedder: Embedder | None = None) -> ThemeResult:
    """Find the themes, at the previous analysis's level of detail when it is held; with
    `embedder`, the themes' candidate names are embedded (one batch per level) to rank them."""
    previous, params = prepared.previous, prepared.params
    resolution = held_resolution(previous, len(prepared.ids), params)
    top = previous.members.get(0, {}) if previous is not None else {}
    apart = curation_state.pinned_rows(prepared.pinned, top, prepared.ids)
    clusterer_params: dict[str, Any] = {"keep_apart": apart}
    if resolution is not None:
        clusterer_params["resolution"] = resolution
    result = find_themes(
        prepared.texts,
        X,
        n_themes=params.n_themes,
        random_state=params.seed,
        clusterer_params=clusterer_params,
        embedder=embedder,
    )
    result.parameters.pop("keep_apart", None)  # rows, not worth keeping: the keys say it
    result.parameters["pinned_keys"] = list(prepared.pinned)
    if resolution is not None and previous is not None:
        result.parameters["resolution_held_from"] = previous.analysis_id
        result.parameters["resolution_chosen_at"] = previous.chosen_at
    else:
        result.parameters["resolution_chosen_at"] = len(prepared.ids)
    return result


def record_timings(session: Session, analysis_id: int, timings: Mapping[str, float]) -> None:
    session.execute(
        update(Analysis).where(Analysis.id == analysis_id).values(timings=dict(timings))
    )


def theme_row(
    analysis_id: int,
    key: str,
    level: int,
    description: Any,
    ids: list[int],
    size: int,
    n: int,
    xy: tuple[float, float],
) -> Theme:
    """A theme row from a description (its ``exemplars`` index into ``ids``) out of ``n``."""
    return Theme(
        analysis_id=analysis_id,
        key=key,
        level=level,
        label=description.label,
        keywords=[[term, round(float(w), 6)] for term, w in description.keywords],
        exemplars=[ids[i] for i in description.exemplars],
        size=size,
        share=size / n if n else 0.0,
        centroid=np.asarray(description.centroid, dtype="<f4").tobytes(),
        x=xy[0],
        y=xy[1],
    )


def store(
    session: Session, prepared: Prepared, result: ThemeResult, model_name: str
) -> dict[str, Any]:
    """Store themes and sub-themes (keys matched to the previous analysis), assignments, soft
    memberships and lineage, and mark the analysis succeeded; the caller's transaction holds
    them all, so readers never see half an analysis."""
    analysis_id, project_id, ids = prepared.analysis_id, prepared.project_id, prepared.ids
    previous, requested = prepared.previous, prepared.requested
    n = len(ids)
    labels = result.labels
    leaves = result.leaf_labels if result.leaf_labels.size == n else np.full(n, -1)
    seen = set(ids)
    ids_array = np.asarray(ids, dtype=np.int64)

    top = result.themes
    top_centroids = (
        np.stack([t.centroid for t in top]) if top else np.zeros((0, 1), dtype=np.float64)
    )
    top_members = [set(ids_array[labels == t].tolist()) for t in range(len(top))]
    top_match = theme_keys.match(previous, 0, top_centroids, top_members, seen)
    taken: set[str] = set()
    top_keys = theme_keys.keys_for(project_id, 0, top, ids, top_match, taken)

    # Only sub-themes of a theme with two or more of them are children (see leaf_labels).
    subs = [s for s in result.subthemes if np.any(leaves == s.subtheme)]
    sub_centroids = (
        np.stack([s.centroid for s in subs]) if subs else np.zeros((0, 1), dtype=np.float64)
    )
    sub_members = [set(ids_array[leaves == s.subtheme].tolist()) for s in subs]
    sub_match = theme_keys.match(previous, 1, sub_centroids, sub_members, seen)
    sub_keys = theme_keys.keys_for(project_id, 1, subs, ids, sub_match, taken)

    theme_ids: list[int] = []
    for index, theme in enumerate(top):
        xy = (float(result.theme_coords[index, 0]), float(result.theme_coords[index, 1]))
        record = theme_row(analysis_id, top_keys[index], 0, theme, ids, theme.size, n, xy)
        session.add(record)
        session.flush()
        theme_ids.append(record.id)
    sub_ids: dict[int, int] = {}
    for sub, key, members in zip(subs, sub_keys, sub_members, strict=True):
        inside = leaves == sub.subtheme
        xy = (float(result.coords[inside, 0].mean()), float(result.coords[inside, 1].mean()))
        record = theme_row(analysis_id, key, 1, sub, ids, len(members), n, xy)
        record.parent_id = theme_ids[sub.parent]
        session.add(record)
        session.flush()
        sub_ids[sub.subtheme] = record.id
    assignment_rows = [
        {
            "analysis_id": analysis_id,
            "narrative_id": narrative_id,
            "theme_id": theme_ids[label] if label >= 0 else None,
            "subtheme_id": sub_ids.get(int(leaves[i])),
            "probability": float(result.probabilities[i]),
            "x": float(result.coords[i, 0]),
            "y": float(result.coords[i, 1]),
        }
        for i, (narrative_id, label) in enumerate(zip(ids, labels, strict=True))
    ]
    if assignment_rows:
        session.execute(insert(ThemeAssignment), assignment_rows)
    membership_rows = [
        {
            "analysis_id": analysis_id,
            "narrative_id": ids[int(i)],
            "rank": int(rank),
            "theme_id": theme_ids[int(result.top_themes[i, rank])],
            "probability": float(result.top_probabilities[i, rank]),
        }
        for i, rank in zip(*np.nonzero(result.top_themes >= 0), strict=True)
    ]
    if membership_rows:
        session.execute(insert(ThemeMembership), membership_rows)
    lineage = theme_keys.lineage_rows(analysis_id, previous, 0, top_match, top_keys)
    lineage += theme_keys.lineage_rows(analysis_id, previous, 1, sub_match, sub_keys)
    if lineage:
        session.execute(insert(ThemeLineage), lineage)
    left = prepared.left_out
    left_out_service.flag(session, left.screened, SIMILAR_TO_PLACEHOLDER)
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id)
        .values(
            status=AnalysisStatus.succeeded,
            finished_at=utcnow(),
            model_name=model_name,
            versions=library_versions(_VERSIONED),
            narrative_count=n,
            theme_count=len(top),
            unclustered_share=float(result.unclustered_share),
            notes=_notes(n, result, left),
            parameters={
                "requested": requested,
                "used": {**result.parameters, "left_out": left.as_json()},
            },
        )
    )
    return {"themes": len(top), "subthemes": len(subs), "narratives": n}


def recent(session: Session, project: Project, limit: int) -> list[Analysis]:
    return list(
        session.scalars(
            select(Analysis)
            .where(Analysis.project_id == project.id)
            .order_by(Analysis.id.desc())
            .limit(limit)
        )
    )
