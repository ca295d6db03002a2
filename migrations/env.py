"""Alembic environment: the URL comes from `-x url=...`, the config, or Weft's settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from app.config import Settings
from models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    return str(x_args.get("url") or config.attributes.get("url") or Settings().database_url)


def _lock_timeout(connection: Connection) -> None:
    """On PostgreSQL, a step waits at most this long for a table's lock: a step queued behind
    a long read would otherwise hold up every read that comes after it."""
    if connection.dialect.name != "postgresql":
        return
    seconds = Settings().migration_lock_timeout_seconds
    connection.exec_driver_sql(f"SET lock_timeout = {int(seconds * 1000)}")
    connection.commit()


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    is_sqlite = (url or str(connection.engine.url if connection else "")).startswith("sqlite")
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead
        render_as_batch=is_sqlite,
        compare_type=True,
        literal_binds=connection is None,
        # each step commits on its own, so its locks are held for that step only
        transaction_per_migration=True,
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        {"sqlalchemy.url": _url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        _lock_timeout(conn)
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
