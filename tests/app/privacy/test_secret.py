"""The pseudonym secret lives outside the database; moving the old keys keeps every pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.services import projects as project_service
from app.services import pseudonym_secret
from models import Project, Scope
from models.base import utcnow
from tests.app.privacy.conftest import FIXTURES, authors
from tests.conftest import (
    CountingEmbedder,
    ProjectHandle,
    alembic_config,
    make_project,
)

ZOOM_CHAT = (FIXTURES / "zoom_chat_new.txt").read_bytes()
STORIES_CSV = b"id,story\ns1,The discharge lounge was calm today\ns2,Transport came late again\n"
LEGACY = "legacyproject000000000000000000"
LEGACY_KEYS = {f"{LEGACY}1": "ab" * 32, f"{LEGACY}2": "cd" * 32}


def old_pseudonym(key: str, author: str) -> str:
    """A pseudonym as the service made it when each project's key was in the database."""
    digest = hmac.new(key.encode("ascii"), author.casefold().encode(), hashlib.sha256).hexdigest()
    return f"person-{digest[:10]}"


# --- the pseudonym secret --------------------------------------------------------------------


def legacy_database(tmp_path: Path) -> str:
    """A store as it was before the secret: two projects with their keys in the database."""
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        for project_id, key in LEGACY_KEYS.items():
            conn.execute(
                text(
                    "INSERT INTO projects (id, name, description, keep_author_names, "
                    "pseudonym_key, created_at) VALUES (:id, 'old', '', 0, :key, :at)"
                ),
                {"id": project_id, "key": key, "at": utcnow()},
            )
    engine.dispose()
    command.upgrade(config, "head")
    return url


class TestPseudonymSecret:
    def test_first_start_creates_a_private_secret_file_and_no_key_in_the_database(
        self, client: TestClient, data_dir: Path, engine: Engine
    ) -> None:
        path = data_dir / "secrets" / "pseudonyms.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = json.loads(path.read_text())["secret"]
        project = make_project(client)
        project.post("/narratives", {"narratives": [{"text": "calm day", "author": "Ana Silva"}]})
        with Session(engine) as session:
            assert session.get_one(Project, project.id).pseudonym_key is None
        derived = hmac.new(
            bytes.fromhex(secret), b"weft-pseudonym:" + project.id.encode(), hashlib.sha256
        ).hexdigest()
        assert authors(project) == [old_pseudonym(derived, "ana silva")]

    def test_keys_in_the_database_move_to_the_file_and_pseudonyms_stay(
        self, tmp_path: Path, data_dir: Path, embedder: CountingEmbedder
    ) -> None:
        url = legacy_database(tmp_path)
        settings = Settings(database_url=url, data_dir=str(data_dir), job_poll_seconds=0.2)
        with TestClient(create_app(settings, embedder=embedder)) as client:
            engine = create_engine(url)
            with Session(engine) as session:
                keys = session.execute(select(Project.pseudonym_key)).scalars().all()
                assert keys == [None, None]
                project = session.get_one(Project, f"{LEGACY}1")
                issued = project_service.issue_key(session, project, Scope.admin)
                session.commit()
            engine.dispose()
            handle = ProjectHandle(
                client, {"id": f"{LEGACY}1", "admin_key": {"key": issued.secret}}
            )
            handle.post("/narratives", {"narratives": [{"text": "late again", "author": "Ana"}]})
            assert authors(handle) == [old_pseudonym("ab" * 32, "ana")]
        stored = json.loads((data_dir / "secrets" / "pseudonyms.json").read_text())
        assert stored["legacy"] == LEGACY_KEYS

    def test_downgrade_puts_every_key_back(
        self, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        url = legacy_database(tmp_path)
        settings = Settings(database_url=url, data_dir=str(data_dir))
        engine = create_engine(url)
        with Session(engine) as session:
            session.add(Project(id="newproject", name="new"))
            session.commit()
        keyring = pseudonym_secret.prepare(settings, sessionmaker(engine))
        monkeypatch.setenv("WEFT_DATA_DIR", str(data_dir))
        command.downgrade(alembic_config(url), "0006")
        with engine.connect() as conn:
            rows = {r.id: r.pseudonym_key for r in conn.execute(text("SELECT * FROM projects"))}
        engine.dispose()
        assert rows == {**LEGACY_KEYS, "newproject": keyring.key_for("newproject")}

    def test_group_readable_file_is_refused_with_how_to_fix(
        self, settings: Settings, data_dir: Path, embedder: CountingEmbedder
    ) -> None:
        with TestClient(create_app(settings, embedder=embedder)):
            pass
        path = data_dir / "secrets" / "pseudonyms.json"
        path.chmod(0o640)
        refused = pytest.raises(pseudonym_secret.SecretError, match="chmod 600")
        with refused, TestClient(create_app(settings, embedder=embedder)):
            pass

    def test_secret_from_the_setting_is_used_and_a_different_one_refused(
        self, settings: Settings, data_dir: Path, embedder: CountingEmbedder
    ) -> None:
        given = settings.model_copy(update={"pseudonym_secret": "12" * 32})
        with TestClient(create_app(given, embedder=embedder)) as client:
            project = make_project(client)
            project.post("/narratives", {"narratives": [{"text": "a", "author": "Bo"}]})
            expected = pseudonym_secret.Keyring("12" * 32).key_for(project.id)
            assert authors(project) == [old_pseudonym(expected, "bo")]
        assert not (data_dir / "secrets" / "pseudonyms.json").exists()
        with TestClient(create_app(settings, embedder=embedder)):
            pass  # now a file secret exists, and differs from the setting
        refused = pytest.raises(pseudonym_secret.SecretError, match="differs")
        with refused, TestClient(create_app(given, embedder=embedder)):
            pass


def _start(url: str, data_dir: str, barrier: Any, results: Any) -> None:
    engine = create_engine(url, connect_args={"timeout": 30})
    barrier.wait()
    keyring = pseudonym_secret.prepare(
        Settings(database_url=url, data_dir=data_dir), sessionmaker(engine)
    )
    results.put((keyring.secret, dict(keyring.legacy)))


def test_processes_starting_together_share_one_secret_and_keep_the_keys(
    tmp_path: Path, data_dir: Path
) -> None:
    url = legacy_database(tmp_path)
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_start, args=(url, str(data_dir), barrier, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    seen = [results.get(timeout=5) for _ in workers]
    assert len({secret for secret, _ in seen}) == 1
    assert all(legacy == LEGACY_KEYS for _, legacy in seen)
    assert [p.name for p in (data_dir / "secrets").iterdir() if p.suffix == ".tmp"] == []
