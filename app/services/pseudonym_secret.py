"""The pseudonym secret: kept outside the database, so the database alone names nobody.

Each project's pseudonym key is HMAC-SHA256(service secret, project id), as 64 hex digits.
Projects created before the secret existed had a random key in `projects.pseudonym_key`;
at start-up those keys move into the secret file (the "legacy" keyring, by project id) and
the column is cleared, so their authors keep their pseudonyms.

The file is JSON, mode 0600::

    {"version": 1, "secret": "<64 hex>", "legacy": {"<project id>": "<64 hex>"}}

Every process that stores narratives (the server, each Celery worker) runs `prepare` at
start: under an exclusive lock on `<file>.lock` it reads the file (creating it if need be),
adds the keys still in the database, writes the file to a temporary name and renames it over
the old one, then clears the moved keys in the database. A crash leaves either the old file
or the new one, and keys are cleared only once the file that holds them is on disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from models import Project

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = 1


class SecretError(RuntimeError):
    """The pseudonym secret cannot be used as configured; the message says how to fix it."""


@dataclass(frozen=True)
class Keyring:
    """The service secret and the keys of projects older than it."""

    secret: str
    legacy: Mapping[str, str] = field(default_factory=dict)

    def key_for(self, project_id: str) -> str:
        """The project's pseudonym key: its legacy key, else derived from the secret."""
        legacy = self.legacy.get(project_id)
        if legacy is not None:
            return legacy
        return hmac.new(
            bytes.fromhex(self.secret), b"weft-pseudonym:" + project_id.encode(), hashlib.sha256
        ).hexdigest()


_installed: Keyring | None = None


def install(keyring: Keyring) -> None:
    """Make `keyring` the one this process pseudonymises with."""
    global _installed
    _installed = keyring


def current() -> Keyring:
    """The keyring `prepare` loaded in this process."""
    if _installed is None:
        raise SecretError("the pseudonym secret is not loaded: the service runs prepare() first")
    return _installed


def secret_path(settings: Settings) -> Path:
    """Where the secret file is: the setting, or `secrets/pseudonyms.json` in the data dir."""
    if settings.pseudonym_secret_file:
        return Path(settings.pseudonym_secret_file)
    return Path(settings.data_dir) / "secrets" / "pseudonyms.json"


def _check_hex(value: str, what: str) -> str:
    if not _HEX64.match(value):
        raise SecretError(
            f"{what} must be 64 lowercase hex digits (e.g. from `openssl rand -hex 32`)"
        )
    return value


def _check_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(
            f"{path} has mode {mode:04o}, so group or others can read it; "
            f"run `chmod 600 {path}` (and keep it owned by the service's user)"
        )


def _read(path: Path) -> dict[str, object] | None:
    if not path.exists():
        return None
    _check_mode(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SecretError(f"{path} is not a pseudonym secret file (not JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("version") != _VERSION:
        raise SecretError(f"{path} is not a version {_VERSION} pseudonym secret file")
    return document


def _write(path: Path, document: Mapping[str, object]) -> None:
    """Write-then-rename: readers see the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process using this file (workers share data_dir)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _secret_of(settings: Settings, document: Mapping[str, object] | None, path: Path) -> str:
    stored = document.get("secret") if document else None
    if stored is not None and not isinstance(stored, str):
        raise SecretError(f"{path}: 'secret' must be a string")
    if settings.pseudonym_secret:
        given = _check_hex(settings.pseudonym_secret, "WEFT_PSEUDONYM_SECRET")
        if stored and stored != given:
            raise SecretError(
                f"WEFT_PSEUDONYM_SECRET differs from the secret in {path}: using it would give "
                "every author a new pseudonym. Unset it, or remove 'secret' from the file if "
                "you mean to rotate (see README, 'Rotating the pseudonym secret')"
            )
        return given
    if stored:
        return _check_hex(stored, f"{path}: 'secret'")
    return secrets.token_hex(32)


def _legacy_of(document: Mapping[str, object] | None, path: Path) -> dict[str, str]:
    legacy = document.get("legacy", {}) if document else {}
    if not isinstance(legacy, dict):
        raise SecretError(f"{path}: 'legacy' must be an object of project id to key")
    return {str(k): _check_hex(str(v), f"{path}: legacy key of {k}") for k, v in legacy.items()}


def read_keyring(settings: Settings) -> Keyring | None:
    """The keyring as the file (and setting) hold it now, without creating or moving anything."""
    path = secret_path(settings)
    document = _read(path)
    if document is None and not settings.pseudonym_secret:
        return None
    return Keyring(_secret_of(settings, document, path), _legacy_of(document, path))


def prepare(settings: Settings, session_factory: sessionmaker[Session]) -> Keyring:
    """Load (or create) the secret file, move the database's keys into it, install it."""
    path = secret_path(settings)
    with _locked(path):
        document = _read(path)
        secret = _secret_of(settings, document, path)
        legacy = _legacy_of(document, path)
        with session_factory() as session:
            rows = session.execute(
                select(Project.id, Project.pseudonym_key).where(Project.pseudonym_key.is_not(None))
            )
            in_db = {project_id: key for project_id, key in rows if key is not None}
        for project_id, key in in_db.items():
            known = legacy.setdefault(project_id, key)
            if known != key:
                raise SecretError(
                    f"project {project_id} has a key in the database that differs from the one "
                    f"in {path}; this file belongs to another database"
                )
        wanted: dict[str, object] = {"version": _VERSION, "legacy": legacy}
        if not settings.pseudonym_secret:
            wanted["secret"] = secret
        # a secret given by setting needs the file only to hold legacy keys
        needed = document is not None or bool(legacy) or not settings.pseudonym_secret
        if needed and (document is None or dict(document) != wanted):
            _write(path, wanted)
            if document is None:
                log.info("pseudonym secret created in %s; back it up with the database", path)
        if in_db:
            with session_factory() as session, session.begin():
                session.execute(
                    update(Project).where(Project.id.in_(list(in_db))).values(pseudonym_key=None)
                )
            log.info("moved %d projects' pseudonym keys into %s", len(in_db), path)
    keyring = Keyring(secret=secret, legacy=legacy)
    install(keyring)
    return keyring
