"""Receiving multipart uploads: the body is streamed to the data directory, never held.

An async dependency checks the key first (the route's `WriteProject`), then streams the
body through Starlette's multipart parser, counting bytes: a declared `Content-Length` over
`WEFT_MAX_UPLOAD_BYTES`, or a body that grows past it, is answered 413 at once. Each file
part is copied to a staging name under `WEFT_DATA_DIR/tmp/` in a worker thread, hashing on
the way; the upload service moves the files it accepts to their source's name, and whatever
the request did not claim is deleted when it ends, whatever its answer (`staged`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.config import Settings
from app.deps import SettingsDep, WriteProject
from app.errors import BadRequest, PayloadTooLarge, UnprocessableEntity, UnsupportedMediaType
from app.services.uploads import KeptFile, ReceivedForm
from models import Project

#: Form fields that hold files, by endpoint.
UPLOAD_FILES = frozenset({"file", "definition", "votes", "participants_votes"})
SESSION_FILES = frozenset({"file"})
DEFINITION_FILES = frozenset({"file"})

_COPY_BUFFER = 1024 * 1024
_MAX_FIELD_BYTES = 256 * 1024


def _keep(upload: UploadFile, role: str, data_dir: Path) -> KeptFile:
    """Copy a received file to a staging name in the data directory, hashing as it goes."""
    digest = hashlib.sha256()
    size = 0
    tmp_dir = data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    name = f"upload-{secrets.token_hex(8)}"
    partial = tmp_dir / f"{name}.part"
    relative = Path("tmp") / name
    try:
        upload.file.seek(0)
        with open(partial, "wb") as out:
            while chunk := upload.file.read(_COPY_BUFFER):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        os.replace(partial, data_dir / relative)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return KeptFile(
        role=role,
        filename=upload.filename,
        media_type=upload.content_type,
        sha256=sha,
        size=size,
        path=relative.as_posix(),
    )


async def receive(
    request: Request, settings: Settings, project_id: str, roles: frozenset[str]
) -> ReceivedForm:
    """Stream a multipart body into the data directory; 413 once it passes the upload limit."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "send the file as multipart/form-data, e.g. curl -F file=@export.csv"
        )
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the upload exceeds the limit of {limit} bytes")

    async def limited() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(f"the upload exceeds the limit of {limit} bytes")
            yield chunk

    parser = MultiPartParser(
        request.headers,
        limited(),
        max_files=len(roles),
        max_fields=20,
        max_part_size=_MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body could not be read: {exc.message}") from exc
    data_dir = Path(settings.data_dir)
    files: dict[str, KeptFile] = {}
    fields: dict[str, str] = {}
    try:
        await run_in_threadpool(_read_parts, form.multi_items(), files, fields, roles, data_dir)
    except BaseException:
        ReceivedForm(files, fields, data_dir).discard(failed=True)
        raise
    finally:
        await form.close()
    return ReceivedForm(files=files, fields=fields, data_dir=data_dir)


def _read_parts(
    items: list[tuple[str, str | UploadFile]],
    files: dict[str, KeptFile],
    fields: dict[str, str],
    roles: frozenset[str],
    data_dir: Path,
) -> None:
    """Stage each file part, and collect the fields, refusing what the endpoint does not take."""
    for name, value in items:
        if isinstance(value, UploadFile):
            if name not in roles:
                expected = ", ".join(sorted(roles))
                raise UnprocessableEntity(
                    f"unexpected file field {name!r}; files go in: {expected}",
                    errors=[{"field": name, "message": "unexpected file field"}],
                )
            if name in files:
                raise UnprocessableEntity(f"more than one file in field {name!r}")
            files[name] = _keep(value, name, data_dir)
        elif name in fields:
            raise UnprocessableEntity(f"field {name!r} is given twice")
        else:
            fields[name] = value
    if "file" not in files:
        raise UnprocessableEntity(
            "no file was sent: put it in the multipart field 'file', e.g. -F file=@export.csv",
            errors=[{"field": "file", "message": "field required"}],
        )


M = TypeVar("M", bound=BaseModel)


def validate_fields(model: type[M], fields: Mapping[str, str]) -> M:
    """The form fields as `model`; errors are rendered like any request validation error."""
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from exc


@asynccontextmanager
async def staged(
    request: Request, settings: Settings, project_id: str, roles: frozenset[str]
) -> AsyncIterator[ReceivedForm]:
    """The received files for the block; what it does not claim is deleted when it ends,
    and what it claimed too when it fails (a refusal keeps no file)."""
    received = await receive(request, settings, project_id, roles)
    try:
        yield received
    except BaseException:
        await run_in_threadpool(received.discard, failed=True)
        raise
    await run_in_threadpool(received.discard, failed=False)


def receiving(
    roles: frozenset[str],
) -> Callable[[Request, Project, Settings], AsyncIterator[ReceivedForm]]:
    """A dependency that streams the multipart files named in `roles` to disk."""

    async def received(
        request: Request, project: WriteProject, settings: SettingsDep
    ) -> AsyncIterator[ReceivedForm]:
        # the key is checked (WriteProject) before a byte of the body is read
        async with staged(request, settings, project.id, roles) as form:
            yield form

    return received
