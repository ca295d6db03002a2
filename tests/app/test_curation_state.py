"""How edits apply to an analysis, worked out from stored lineage: the cases a small data
set cannot easily provoke (a key the matching split, a key continuing in one half)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.services import curation_state
from models import (
    Analysis,
    AnalysisStatus,
    EditKind,
    Project,
    Theme,
    ThemeEdit,
    ThemeLineage,
)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as db:
        yield db
        db.rollback()


def _analysis(db: Session, project: Project, keys: list[str]) -> Analysis:
    analysis = Analysis(project_id=project.id, status=AnalysisStatus.succeeded, model_name="test")
    db.add(analysis)
    db.flush()
    for key in keys:
        db.add(Theme(analysis_id=analysis.id, key=key, label=f"machine {key}", size=10))
    db.flush()
    return analysis


def _edit(db: Session, project: Project, made_on: Analysis, kind: EditKind, value: object) -> None:
    db.add(
        ThemeEdit(
            project_id=project.id, kind=kind, keys=["ta"], value=value, analysis_id=made_on.id
        )
    )
    db.flush()


def test_a_key_the_next_analysis_split_waits_though_it_continues(session: Session) -> None:
    project = Project(name="State")
    session.add(project)
    session.flush()
    first = _analysis(session, project, ["ta", "tb"])
    _edit(session, project, first, EditKind.label, "Named by hand")
    _edit(session, project, first, EditKind.hidden, True)
    second = _analysis(session, project, ["ta", "tb", "tc"])
    session.add(
        ThemeLineage(
            analysis_id=second.id,
            previous_analysis_id=first.id,
            kind="split",
            previous_keys=["ta"],
            current_keys=["ta", "tc"],
        )
    )
    session.flush()

    on_first = curation_state.overlay(session, project.id, first)
    assert on_first.labels == {"ta": "Named by hand"} and on_first.hidden == {"ta"}
    on_second = curation_state.overlay(session, project.id, second)
    assert on_second.labels == {} and on_second.hidden == set()
    assert [s.status for s in on_second.states] == ["needs_decision", "needs_decision"]
    assert all("split into ta, tc" in (s.reason or "") for s in on_second.states)


def test_the_newest_edit_of_a_field_wins_and_undoing_it_restores_the_older(
    session: Session,
) -> None:
    project = Project(name="State")
    session.add(project)
    session.flush()
    first = _analysis(session, project, ["ta"])
    _edit(session, project, first, EditKind.label, "Older")
    _edit(session, project, first, EditKind.label, "Newer")
    overlay = curation_state.overlay(session, project.id, first)
    assert overlay.labels == {"ta": "Newer"}
    assert [s.status for s in overlay.states] == ["superseded", "applied"]
    newest = overlay.states[1].edit
    newest.undone_at = newest.created_at
    session.flush()
    assert curation_state.overlay(session, project.id, first).labels == {"ta": "Older"}
