"""A release on PostgreSQL: the previous release's code keeps serving reads without an error while
this release's migrations apply (expand), both serve side by side, then the previous one stops
and the contract steps apply.

The previous release is this repository's code as it was just before the newest migration was
added (from git), served in a process of its own; readers request the themes, trends,
narratives and analyses over HTTP from whichever servers are up, all through the release. While
the expand steps run, a long read holds every table (as a report query would), so a step has to
wait for it: it gives up after its lock timeout instead of queueing every read behind it, and
`weft migrate` tries it again. Runs once, in the PostgreSQL pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"
DATABASE = os.environ.get("WEFT_TEST_DATABASE_URL")

pytestmark = pytest.mark.skipif(
    not DATABASE or not DATABASE.startswith("postgresql"),
    reason="runs once, in the PostgreSQL pass (make test-postgres)",
)

#: Serves the Weft of whichever tree PYTHONPATH names, with the hash embedder.
SERVE = """
import sys, uvicorn
from app.config import Settings
from app.main import create_app
from pipelines.embed import HashEmbedder
url, data, port = sys.argv[1:4]
settings = Settings(database_url=url, data_dir=data, auto_analyze=False, job_poll_seconds=0.2)
app = create_app(settings, embedder=HashEmbedder(16))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""

ROLES = ("nurse", "carer", "patient", "manager")
WORDS = ("waiting", "discharge", "parking", "kindness", "pharmacy", "night", "transport")


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


def previous_release(into: Path) -> Path:
    """This repository's tree as main was before the newest migration came in: the first
    parent of the first commit along main's first-parent history whose own first parent lacks
    the newest migration's file."""
    if not (ROOT / ".git").exists():
        pytest.skip("the previous release is read from git history; this is not a checkout")
    if _git("rev-parse", "--is-shallow-repository").strip() == b"true":
        pytest.skip("the previous release is read from git history; this clone is shallow")
    newest = sorted(VERSIONS.glob("*.py"))[-1].name
    commit = "HEAD"  # the newest migration is not committed yet
    changes = _git("log", "--first-parent", "--format=%H", "--", "migrations/versions")
    for change in changes.decode().split():
        listed = _git("ls-tree", "--name-only", f"{change}^1", "migrations/versions/")
        if newest not in listed.decode():
            commit = f"{change}^1"
            break
    with tarfile.open(fileobj=BytesIO(_git("archive", "--format=tar", commit))) as archive:
        # the release's files; links (a local cache linked in by mistake) are not part of it
        files = [m for m in archive.getmembers() if not (m.issym() or m.islnk())]
        archive.extractall(into, members=files, filter="data")
    return into


def _env(tree: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
    env.update(PYTHONPATH=str(tree), WEFT_DATABASE_URL=url, HF_HUB_OFFLINE="1", **extra)
    return env


@dataclass
class Server:
    """Weft from `tree` in a process of its own."""

    tree: Path
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    base: str = ""

    def start(self, data_dir: Path) -> Server:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE, self.url, str(data_dir), str(port)],
                cwd=self.tree,
                env=_env(self.tree, self.url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.tree} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


@dataclass
class Readers:
    """Clients reading from whichever servers are listed, until stopped."""

    paths: list[str]
    key: str
    servers: list[str] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _read(self, offset: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=30, headers=headers) as client:
            turn = offset
            while not self._stop.is_set():
                servers = list(self.servers)
                base = servers[turn % len(servers)]
                path = self.paths[turn % len(self.paths)]
                turn += 1
                try:
                    response = client.get(base + path)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{base}{path}: {type(exc).__name__} {exc}")
                    continue
                if response.status_code != 200:
                    self.errors.append(f"{base}{path}: {response.status_code} {response.text}")
                self.served[base] = self.served.get(base, 0) + 1
                self.during.append(time.monotonic())

    def start(self, clients: int = 4) -> None:
        for n in range(clients):
            thread = threading.Thread(target=self._read, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in list(self.during) if start <= t <= end)

    def wait_for(self, base: str, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        seen = self.served.get(base, 0)
        while self.served.get(base, 0) < seen + count:
            assert time.monotonic() < deadline, f"{base} served too few reads"
            time.sleep(0.05)


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the test server, empty."""
    assert DATABASE
    name = f"weft_release_{uuid.uuid4().hex[:8]}"
    admin = create_engine(DATABASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(DATABASE).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(tree: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(tree / "alembic.ini"), "upgrade", "head"]
        if tree != ROOT
        else [sys.executable, "-m", "app.cli", "migrate", *args],
        cwd=tree,
        env=_env(tree, url, **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _revision(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    engine.dispose()
    return found


def _seed(base: str) -> tuple[str, str]:
    """A project with 240 narratives over four roles and three sessions, analysed."""
    with httpx.Client(base_url=base, timeout=60) as client:
        made = client.post("/v1/projects", json={"name": "Release rehearsal"}).json()
        project, key = made["id"], made["admin_key"]["key"]
        headers = {"Authorization": f"Bearer {key}"}
        stories = [
            {
                "text": f"{WORDS[n % 7]} {WORDS[(n * 3) % 7]} story {n} about the ward",
                "attributes": {"role": ROLES[n % 4]},
                "occurred_at": f"2026-0{1 + n % 3}-1{n % 9}T10:00:00",
            }
            for n in range(240)
        ]
        stored = client.post(
            f"/v1/projects/{project}/narratives", json={"narratives": stories}, headers=headers
        )
        assert stored.status_code == 201, stored.text
        _wait(client, stored.json()["job"]["id"], headers)
        queued = client.post(f"/v1/projects/{project}/analyses", json={}, headers=headers)
        assert queued.status_code == 202, queued.text
        _wait(client, queued.json()["job"]["id"], headers)
    return project, key


def _wait(client: httpx.Client, job: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job}", headers=headers).json()["status"]
        if status == "succeeded":
            return
        assert status != "failed", client.get(f"/v1/jobs/{job}", headers=headers).text
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not finish")


def _hold_every_table(url: str, extra: float) -> threading.Thread:
    """A long read holding every table (ACCESS SHARE), as a big report query would, until a
    migration step has waited on it for `extra` seconds (or a minute has passed)."""
    ready = threading.Event()

    def hold() -> None:
        engine = create_engine(url)
        with engine.connect() as conn, engine.connect() as watch:
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
            conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS SHARE MODE"))
            ready.set()
            deadline, seen = time.monotonic() + 60, None
            while time.monotonic() < deadline and (seen is None or time.monotonic() < seen):
                waiting = watch.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = :m"),
                    {"m": "AccessExclusiveLock"},
                ).scalar_one()
                watch.rollback()
                if waiting and seen is None:
                    seen = time.monotonic() + extra
                time.sleep(0.05)
            conn.rollback()
        engine.dispose()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(30)
    return thread


def test_the_previous_release_serves_reads_while_this_release_migrates(
    database: str, tmp_path: Path
) -> None:
    previous = previous_release(tmp_path / "previous")
    made = _migrate(previous, database)
    assert made.returncode == 0, made.stderr
    before = _revision(database)

    old = Server(previous, database, tmp_path / "previous.log").start(tmp_path / "data-previous")
    new = Server(ROOT, database, tmp_path / "this.log")
    readers: Readers | None = None
    try:
        project, key = _seed(old.base)
        p = f"/v1/projects/{project}"
        readers = Readers(
            paths=[
                f"{p}/themes",
                f"{p}/themes?level=leaf",
                f"{p}/trends?by=attribute:role",
                f"{p}/trends?by=period:month",
                f"{p}/narratives?limit=20&offset=40",
                f"{p}/themes?attribute=role:carer",
                f"{p}/analyses",
                f"{p}/trends?by=attribute:role&since=2026-02-01",
            ],
            key=key,
            servers=[old.base],
        )
        readers.start()
        readers.wait_for(old.base, 20)

        # expand, with a long read in the way of every step that changes a table
        holder = _hold_every_table(database, extra=1.0)
        started = time.monotonic()
        expanded = _migrate(ROOT, database, "--expand", WEFT_MIGRATION_LOCK_TIMEOUT_SECONDS="0.5")
        finished = time.monotonic()
        holder.join(30)
        assert expanded.returncode == 0, expanded.stderr
        assert _revision(database) != before
        assert "waited too long for a table in use" in expanded.stderr
        assert readers.between(started, finished) > 0
        readers.wait_for(old.base, 20)

        # both releases serve, and the previous one reads what this one writes
        new.start(tmp_path / "data-this")
        readers.servers.append(new.base)
        readers.wait_for(new.base, 20)
        with httpx.Client(base_url=new.base, timeout=60) as client:
            headers = {"Authorization": f"Bearer {key}"}
            posted = client.post(
                f"{p}/narratives",
                json={"narratives": [{"text": "posted to the new release", "external_id": "n1"}]},
                headers=headers,
            )
            assert posted.status_code == 201, posted.text
        seen = httpx.get(
            f"{old.base}{p}/narratives",
            params={"limit": 1, "offset": 240},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert seen.json()["items"][0]["text"] == "posted to the new release"

        # the previous release stops; the contract steps apply
        readers.servers.remove(old.base)
        time.sleep(1.0)  # reads already sent to it finish
        old.stop()
        contracted = _migrate(ROOT, database)
        assert contracted.returncode == 0, contracted.stderr
        readers.wait_for(new.base, 20)
    finally:
        if readers:
            readers.stop()
        old.stop()
        new.stop()
    assert readers.errors == [], "\n".join(readers.errors[:10])
