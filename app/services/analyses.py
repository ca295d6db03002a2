"""Analyses: queue a clustering run, run it as a job, and store its themes and assignments."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.jobs.context import JobContext
from app.jobs.registry import job_handler
from app.services import jobs as jobs_service
from app.services import tensions as tension_service
from app.services.embeddings import embed_and_store, load_vectors, missing_texts
from models import Analysis, Job, Narrative, Project, Theme, ThemeAssignment
from models.base import utcnow
from pipelines.themes import ThemeResult, find_themes

ANALYZE_JOB = "analyze"
#: A theme keeps the key of a previous theme whose centroid is at least this similar.
KEY_MATCH_SIMILARITY = 0.9
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

    def as_json(self) -> dict[str, Any]:
        return {
            "n_themes": self.n_themes,
            "seed": self.seed,
            "include_low_content": self.include_low_content,
        }


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
                Analysis.status == "queued",
                Job.status == "queued",
            )
            .order_by(Analysis.id.desc())
            .limit(1)
        ).first()
        if waiting is not None:
            return waiting[0], waiting[1]
    analysis = Analysis(
        project_id=project.id,
        status="queued",
        parameters={"requested": params.as_json()},
        seed=params.seed,
        model_name=model_name,
    )
    session.add(analysis)
    session.flush()
    job = jobs_service.enqueue(
        session, ANALYZE_JOB, project_id=project.id, payload={"analysis_id": analysis.id}
    )
    analysis.job_id = job.id
    session.flush()
    return analysis, job


def latest(session: Session, project: Project) -> Analysis | None:
    """The project's most recent analysis that finished successfully."""
    return session.scalars(
        select(Analysis)
        .where(Analysis.project_id == project.id, Analysis.status == "succeeded")
        .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
        .limit(1)
    ).first()


def get(session: Session, project: Project, analysis_id: int) -> Analysis:
    analysis = session.get(Analysis, analysis_id)
    if analysis is None or analysis.project_id != project.id:
        raise NotFound(f"analysis {analysis_id} not found")
    return analysis


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _new_key(project_id: str, medoid_narrative_id: int, taken: set[str]) -> str:
    """A key derived from the theme's most central narrative: the same run gives the same keys."""
    salt = 0
    while True:
        material = f"{project_id}:{medoid_narrative_id}:{salt}".encode()
        key = "t" + hashlib.sha256(material).hexdigest()[:8]
        if key not in taken:
            return key
        salt += 1


def _carry_keys(previous: list[tuple[str, bytes | None]], centroids: np.ndarray) -> dict[int, str]:
    """Theme index -> previous key, for themes whose centroid matches a previous theme's."""
    usable = [(key, np.frombuffer(blob, dtype="<f4")) for key, blob in previous if blob]
    usable = [(key, c) for key, c in usable if c.shape[0] == centroids.shape[1]]
    if not usable or centroids.shape[0] == 0:
        return {}
    old = np.stack([c for _, c in usable])
    similarity = centroids @ old.T
    rows, cols = linear_sum_assignment(-similarity)
    return {
        int(r): usable[int(c)][0]
        for r, c in zip(rows, cols, strict=True)
        if similarity[r, c] >= KEY_MATCH_SIMILARITY
    }


def _notes(n: int, result: ThemeResult) -> list[str]:
    """Plain-language remarks a reader of the result should see first."""
    notes: list[str] = []
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


def _fail(ctx: JobContext, analysis_id: int, message: str) -> None:
    with ctx.session() as session:
        session.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id)
            .values(status="failed", error=message, finished_at=utcnow())
        )


@job_handler(ANALYZE_JOB)
def run_analysis(ctx: JobContext) -> dict[str, Any]:
    """Embed what is missing, cluster, describe, and store the analysis in one transaction."""
    analysis_id = int(ctx.payload["analysis_id"])
    try:
        return _run(ctx, analysis_id)
    except BaseException as exc:
        _fail(ctx, analysis_id, f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _run(ctx: JobContext, analysis_id: int) -> dict[str, Any]:
    embedder = ctx.deps.embedder
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with ctx.session() as session:
        analysis = session.get_one(Analysis, analysis_id)
        analysis.status = "running"
        requested = dict(analysis.parameters.get("requested") or {})  # type: ignore[call-overload]
        params = AnalysisParams(
            n_themes=requested.get("n_themes"),
            seed=analysis.seed,
            include_low_content=bool(requested.get("include_low_content")),
        )
        project_id = analysis.project_id
        query = select(Narrative.id, Narrative.text, Narrative.text_hash).where(
            Narrative.project_id == project_id
        )
        if not params.include_low_content:
            query = query.where(Narrative.low_content.is_(False))
        rows = session.execute(query.order_by(Narrative.id)).all()
        todo = missing_texts(session, project_id, embedder.name)
        previous = latest(session, session.get_one(Project, project_id))
        previous_keys: list[tuple[str, bytes | None]] = []
        if previous is not None:
            previous_keys = [
                (key, blob)
                for key, blob in session.execute(
                    select(Theme.key, Theme.centroid).where(Theme.analysis_id == previous.id)
                )
            ]

    total_steps = len(todo) + 2
    ctx.progress(0, total_steps)
    done = embed_and_store(ctx, todo)
    timings["embed_seconds"] = time.perf_counter() - started

    ids = [r.id for r in rows]
    texts = [r.text for r in rows]
    with ctx.session() as session:
        by_hash = load_vectors(session, embedder.name, [r.text_hash for r in rows])
    X = (
        np.stack([by_hash[r.text_hash] for r in rows])
        if rows
        else np.zeros((0, embedder.dimension), dtype=np.float32)
    )

    clustered_at = time.perf_counter()
    result = find_themes(texts, X, n_themes=params.n_themes, random_state=params.seed)
    timings["cluster_seconds"] = time.perf_counter() - clustered_at
    timings.update({f"pipeline_{k}_seconds": v for k, v in result.timings.items()})
    ctx.progress(done + 1)

    stored_at = time.perf_counter()
    summary = _store(
        ctx, analysis_id, project_id, ids, result, previous_keys, embedder.name, requested
    )
    timings["store_seconds"] = time.perf_counter() - stored_at
    signalled_at = time.perf_counter()
    tension_service.run_step(ctx, analysis_id, project_id, ids, texts, X, result.labels)
    timings["signals_seconds"] = time.perf_counter() - signalled_at
    timings["total_seconds"] = time.perf_counter() - started
    with ctx.session() as session:
        session.execute(update(Analysis).where(Analysis.id == analysis_id).values(timings=timings))
    return {"analysis_id": analysis_id, **summary}


def _store(
    ctx: JobContext,
    analysis_id: int,
    project_id: str,
    ids: list[int],
    result: ThemeResult,
    previous_keys: list[tuple[str, bytes | None]],
    model_name: str,
    requested: dict[str, Any],
) -> dict[str, Any]:
    n = len(ids)
    centroids = (
        np.stack([t.centroid for t in result.themes]).astype(np.float32)
        if result.themes
        else np.zeros((0, 1), dtype=np.float32)
    )
    carried = _carry_keys(previous_keys, centroids)
    with ctx.session() as session:
        taken: set[str] = set(carried.values())
        theme_ids: list[int] = []
        for index, theme in enumerate(result.themes):
            medoid = ids[theme.exemplars[0]] if theme.exemplars else index
            key = carried.get(index) or _new_key(project_id, medoid, taken)
            taken.add(key)
            record = Theme(
                analysis_id=analysis_id,
                key=key,
                level=0,
                label=theme.label,
                keywords=[[term, round(float(w), 6)] for term, w in theme.keywords],
                exemplars=[ids[i] for i in theme.exemplars],
                size=theme.size,
                share=theme.size / n if n else 0.0,
                centroid=np.asarray(theme.centroid, dtype="<f4").tobytes(),
                x=float(result.theme_coords[index, 0]),
                y=float(result.theme_coords[index, 1]),
            )
            session.add(record)
            session.flush()
            theme_ids.append(record.id)
        assignment_rows = [
            {
                "analysis_id": analysis_id,
                "narrative_id": narrative_id,
                "theme_id": theme_ids[label] if label >= 0 else None,
                "probability": float(result.probabilities[i]),
                "x": float(result.coords[i, 0]),
                "y": float(result.coords[i, 1]),
            }
            for i, (narrative_id, label) in enumerate(zip(ids, result.labels, strict=True))
        ]
        if assignment_rows:
            session.execute(insert(ThemeAssignment), assignment_rows)
        session.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id)
            .values(
                status="succeeded",
                finished_at=utcnow(),
                model_name=model_name,
                versions=_versions(),
                narrative_count=n,
                theme_count=len(result.themes),
                unclustered_share=float(result.unclustered_share),
                notes=_notes(n, result),
                parameters={"requested": requested, "used": result.parameters},
            )
        )
    return {"themes": len(result.themes), "narratives": n}


def recent(session: Session, project: Project, limit: int) -> list[Analysis]:
    return list(
        session.scalars(
            select(Analysis)
            .where(Analysis.project_id == project.id)
            .order_by(Analysis.id.desc())
            .limit(limit)
        )
    )
