"""Running Weft: the server, a Celery worker, migrations, and a check of what they need."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from app.cli.connection import reporting
from app.cli.console import Failed, Output, exits_on_failure
from app.config import Settings
from app.schema_release import Step, expand_target, phase_of

#: The checkout holding alembic.ini and migrations/ (an editable install runs from it).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def settings(**overrides: Any) -> Settings:
    """The WEFT_ settings, with the options given on the command line over them."""
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid setting: {exc}", param_hint="WEFT_*") from exc


@exits_on_failure
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (else WEFT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (else WEFT_PORT).")] = None,
    web_workers: Annotated[
        int | None,
        typer.Option(
            "--web-workers", min=1, help="Web server processes (else WEFT_WEB_WORKERS, 1)."
        ),
    ] = None,
) -> None:
    """Serve the API and the dashboard (what `make run` starts), jobs in a worker beside it.

    Uvicorn serves the requests; unless WEFT_JOB_RUNNER says otherwise, the jobs run in a job
    worker process the server starts and supervises. --web-workers 2 serves the requests from
    two processes, so reads use two cores (about 600 MiB more memory)."""
    from app.__main__ import main as serve_main

    serve_main(settings(host=host, port=port, web_workers=web_workers))


@exits_on_failure
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "info",
) -> None:
    """A Celery worker on Weft's queue, with the prefork pool (time limits need it)."""
    queue = settings().job_queue
    try:
        from app.jobs.celery_runner import celery_app
    except ImportError as exc:
        raise Failed(f"Celery is not installed ({exc}): pip install -e '.[workers]'") from exc
    argv = ["worker", "--pool", "prefork", "--queues", queue]
    celery_app.worker_main([*argv, "--concurrency", str(concurrency), "--loglevel", loglevel])


def _alembic_config(url: str) -> object:
    from alembic.config import Config

    ini = SOURCE_ROOT / "alembic.ini"
    if not ini.exists():
        raise Failed(f"no {ini}: migrations run from a source checkout (pip install -e .)")
    config = Config(str(ini))
    config.attributes["url"] = url
    return config


#: Tries of a migration step that timed out waiting for a table lock, and the first pause.
LOCK_TRIES = 6
LOCK_PAUSE_SECONDS = 1.0


def _current_heads(url: str) -> tuple[str, ...]:
    """The revisions the database at `url` is at (none for an empty one)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _pending(config: Any, url: str) -> list[Step]:
    """The migrations not yet applied to `url`, oldest first, with their phases."""
    from alembic.script import ScriptDirectory

    current = _current_heads(url)
    scripts = ScriptDirectory.from_config(config)
    newest_first = scripts.iterate_revisions("heads", current or "base")
    return [Step(s.revision, phase_of(s.module)) for s in reversed(list(newest_first))]


def _lock_timed_out(exc: BaseException) -> bool:
    # PostgreSQL's lock_not_available: the step gave up waiting for readers (lock_timeout)
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "55P03"


def _upgrade(config: Any, target: str, out: Output) -> None:
    from alembic import command
    from sqlalchemy.exc import OperationalError

    pause = LOCK_PAUSE_SECONDS
    for attempt in range(1, LOCK_TRIES + 1):
        try:
            command.upgrade(config, target)
            return
        except OperationalError as exc:
            if not _lock_timed_out(exc) or attempt == LOCK_TRIES:
                raise
            # the steps before this one are committed; the next try starts at this one
            out.warn(f"a migration step waited too long for a table in use; again in {pause:g}s")
            time.sleep(pause)
            pause *= 2


@exits_on_failure
def migrate(
    expand: Annotated[
        bool,
        typer.Option(
            "--expand",
            help="Apply only the steps the running release can serve through (up to the first "
            "contract step); run `weft migrate` again once every server and worker runs the new "
            "release.",
        ),
    ] = False,
) -> None:
    """Bring the database (WEFT_DATABASE_URL) to the latest schema."""
    out = Output()
    url = settings().database_url
    config = _alembic_config(url)
    pending = _pending(config, url)
    if not pending:
        out.message("the database is at the latest schema")
        return
    target = "head"
    if expand:
        found = expand_target(pending)
        if found is None:
            out.message(
                f"the next step ({pending[0].revision}) is a contract step: stop the previous "
                "release's servers and workers, then run `weft migrate`"
            )
            return
        target = found
    _upgrade(config, target, out)
    revisions = [s.revision for s in pending]
    applied = revisions if target == "head" else revisions[: revisions.index(target) + 1]
    left = len(revisions) - len(applied)
    done = (
        applied[0] if len(applied) == 1 else f"{len(applied)} steps, {applied[0]} to {applied[-1]}"
    )
    out.message(
        f"applied {done}"
        + (f"; {left} contract step(s) left for `weft migrate` after the switch" if left else "")
    )


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail or skip
    detail: str


def _check_database(found: Settings) -> Check:
    from alembic.script import ScriptDirectory
    from sqlalchemy import make_url

    shown = make_url(found.database_url).render_as_string(hide_password=True)
    heads = set(ScriptDirectory.from_config(_alembic_config(found.database_url)).get_heads())  # type: ignore[arg-type]
    try:
        current = set(_current_heads(found.database_url))
    except Exception as exc:
        return Check("database", "fail", f"{shown} unreachable ({type(exc).__name__}: {exc})")
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision"
        return Check(
            "database", "fail", f"{shown} at {at}, not {', '.join(heads)}: run weft migrate"
        )
    return Check("database", "ok", f"{shown} reachable, migrated ({', '.join(heads)})")


def _check_model(found: Settings) -> Check:
    # the check is that it loads with no network, as the server will
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from app.embedder import check_backend

    model = found.embedding_model or "the packaged all-MiniLM-L6-v2"
    backend = found.embedding_backend
    try:
        name, where = check_backend(found)
    except Exception as exc:
        if backend != "torch":
            try:
                check_backend(found.model_copy(update={"embedding_backend": "torch"}))
            except Exception:
                pass
            else:
                return Check(
                    "model",
                    "warn",
                    f"WEFT_EMBEDDING_BACKEND={backend} does not load ({type(exc).__name__}: "
                    f"{exc}); the service embeds with torch instead, 2-3x slower: fix "
                    "WEFT_EMBEDDING_CACHE_DIR, or set WEFT_EMBEDDING_BACKEND=torch to choose "
                    "torch",
                )
        return Check(
            "model",
            "fail",
            f"{model} does not load offline ({type(exc).__name__}: {exc}); set "
            "WEFT_EMBEDDING_MODEL to a local path",
        )
    return Check("model", "ok", f"{name} loads offline ({where})")


def _check_broker(found: Settings) -> Check:
    if found.job_runner != "celery":
        how = {
            "thread": "on threads of the web server",
            "process": "in a worker process that `weft serve` supervises",
            "auto": "in a worker process that `weft serve` supervises",
        }[found.job_runner]
        runner = found.job_runner
        return Check("broker", "skip", f"no broker: jobs run {how} (WEFT_JOB_RUNNER={runner})")
    try:
        from kombu.connection import Connection

        with Connection(found.broker_url, connect_timeout=3) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return Check(
            "broker",
            "fail",
            f"{found.broker_url} unreachable ({type(exc).__name__}); start Redis or fix "
            "WEFT_BROKER_URL",
        )
    return Check("broker", "ok", f"{found.broker_url} reachable")


def _check_data_dir(found: Settings) -> Check:
    path = Path(found.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".weft-doctor-"):
            pass
    except OSError as exc:
        return Check(
            "data dir",
            "fail",
            f"{path.resolve()} is not writable ({exc.strerror}); fix "
            "its permissions or set WEFT_DATA_DIR",
        )
    return Check("data dir", "ok", f"{path.resolve()} writable")


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    _check_database,
    _check_model,
    _check_broker,
    _check_data_dir,
)


@reporting
def doctor(out: Output) -> None:
    """Check what the server and workers need: each a line with ok or what to fix."""
    found = settings()
    results = []
    for check in CHECKS:
        try:
            results.append(check(found))
        except Failed as exc:
            results.append(Check(check.__name__.removeprefix("_check_"), "fail", exc.message))
    if out.as_json:
        out.json([asdict(r) for r in results])
    else:
        out.data("\n".join(f"{r.status:<5} {r.name:<9} {r.detail}" for r in results))
    failed = [r.name for r in results if r.status == "fail"]
    if failed:
        raise Failed(f"not ready: {', '.join(failed)}")
