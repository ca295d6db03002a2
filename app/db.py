"""Engine and session factory; SQLite gets the pragmas a concurrent service needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Seconds a SQLite write waits for the one writer before failing with "database is locked".
#: Job lanes write beside each other, and an upload's store is one transaction: at the
#: largest file (WEFT_MAX_UPLOAD_ROWS, ~6,500 rows/s in bench/README.md) it holds the lock for
#: a minute or so on a busy machine, and another lane's progress report must outwait it.
SQLITE_BUSY_TIMEOUT = 120
#: Connections a SQLite engine keeps open (and as many more at a peak).
SQLITE_POOL_SIZE = 20


def build_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite, WAL mode, enforced foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        on_file = parsed.database not in (None, "", ":memory:")
        # a file's connections are cheap and never drop: enough kept open for a busy
        # server's request threads (anyio's 40), none pinged before use
        pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE} if on_file else {}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT},
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if on_file:
                # readers (dashboards) are not blocked by a writer (an ingest job)
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def build_session_factory(engine: Engine, **info: Any) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit; `info` is shared by all of them."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


#: Opens one short unit of work: committed when the block ends, rolled back on error. Job code
#: hands it to services that must commit between steps (per embedded chunk, before computing).
Transaction = Callable[[], AbstractContextManager[Session]]


def transactions(session_factory: sessionmaker[Session]) -> Transaction:
    """A `Transaction` over `session_factory`."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        with session_factory() as session, session.begin():
            yield session

    return transaction
