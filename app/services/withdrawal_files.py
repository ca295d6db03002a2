"""Raw files and caches of deleted data: let go only once the deletion is committed.

A file cannot be rolled back with the database, so it is removed after the commit: a deletion
that fails leaves every row and every file as it was. The dashboard's cached maps of the
project are forgotten at the same moment.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.services import theme_map
from models import Source

log = logging.getLogger("weft.withdrawal")


def source_paths(sources: Iterable[Source]) -> set[str]:
    """The data-directory-relative paths of the sources' kept files."""
    return {
        str(f["path"])
        for source in sources
        for f in source.files or []
        if isinstance(f, dict) and isinstance(f.get("path"), str)
    }


def inside(data_dir: Path, relative: str) -> Path | None:
    """`relative` under the data directory, or None when it would lead outside it."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path != root else None


def existing(data_dir: Path, relatives: Iterable[str]) -> list[Path]:
    """The files of `relatives` that are on disk, inside the data directory."""
    paths = [inside(data_dir, r) for r in sorted(set(relatives))]
    return [p for p in paths if p is not None and p.is_file()]


def project_files(data_dir: Path, project_id: str) -> tuple[Path | None, list[Path]]:
    """The project's upload directory and every file in it."""
    folder = inside(data_dir, f"uploads/{project_id}")
    if folder is None or not folder.is_dir():
        return None, []
    return folder, sorted(p for p in folder.rglob("*") if p.is_file())


def after_commit(session: Session, project_id: str, files: list[Path], folder: Path | None) -> None:
    """Once the session commits: remove `files` (and `folder`), and forget cached maps."""

    def release(_session: Session) -> None:
        theme_map.forget(project_id)
        for path in files:
            _remove(path.unlink)
        if folder is not None:
            _remove(lambda: shutil.rmtree(folder))

    theme_map.forget(project_id)
    event.listen(session, "after_commit", release, once=True)


def _remove(step: Callable[[], None]) -> None:
    try:
        step()
    except FileNotFoundError:
        pass
    except OSError as exc:
        # the rows are gone already; the operator must remove what is left by hand
        log.error("a deleted upload's file could not be removed: %s", exc)
