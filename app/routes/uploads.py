from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import ReadProject, SessionDep, SettingsDep, WriteProject
from app.routes.filters import IdPath
from app.routes.multipart import DEFINITION_FILES, UPLOAD_FILES, receiving, validate_fields
from app.schemas.signifiers import SignifierList, SignifierRead
from app.schemas.uploads import (
    SourceRead,
    UploadAccepted,
    UploadFields,
    multipart_body,
)
from app.services import uploads as upload_service
from app.services.uploads import ReceivedForm

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["uploads"])


received_upload = receiving(UPLOAD_FILES)
received_definition = receiving(DEFINITION_FILES)


_UPLOAD_BODY = multipart_body(
    files={
        "file": "The batch file (CSV, TSV, JSONL, JSON, XLSX), SenseMaker data CSV or Polis "
        "comments.csv.",
        "definition": "SenseMaker framework definition JSON (declares the signifiers).",
        "votes": "Polis votes.csv.",
        "participants_votes": "Polis participants-votes.csv (tallies per opinion group).",
    },
    fields={
        "format": "auto (default), csv, tsv, jsonl, json, xlsx, sensemaker or polis",
        "mapping": 'JSON column mapping, e.g. {"text": "Story", "time": "Date"}',
        "dayfirst": "true (default): 03/04/2026 is 3 April",
        "timezone": "zone of times written without one, e.g. Europe/London",
        "sheet": "XLSX: the sheet to read",
    },
    required=["file"],
)


@router.post("/uploads", status_code=202, response_model=UploadAccepted, openapi_extra=_UPLOAD_BODY)
def post_upload(
    project: WriteProject,
    received: Annotated[ReceivedForm, Depends(received_upload)],
    session: SessionDep,
) -> UploadAccepted:
    """Keep the file(s) and queue their parsing; the same bytes again return their source."""
    fields = validate_fields(UploadFields, received.fields)
    return upload_service.accept_upload(session, project, received, fields.options())


@router.get("/uploads/{source_id}", response_model=SourceRead)
def read_upload(source_id: IdPath, project: ReadProject, session: SessionDep) -> SourceRead:
    """An upload's status and report: what was stored, and each row not stored with why."""
    return upload_service.read_source(session, project, source_id)


@router.post(
    "/signifiers/import",
    response_model=SignifierList,
    openapi_extra=multipart_body(
        files={"file": "SenseMaker framework definition JSON."}, fields={}, required=["file"]
    ),
)
def import_signifiers(
    project: WriteProject,
    received: Annotated[ReceivedForm, Depends(received_definition)],
    session: SessionDep,
    settings: SettingsDep,
) -> SignifierList:
    """Declare the signifiers of a SenseMaker framework definition."""
    data = (Path(settings.data_dir) / received.files["file"].path).read_bytes()
    declared = upload_service.import_definition(session, project, data)
    return SignifierList(signifiers=[SignifierRead.model_validate(s) for s in declared])
