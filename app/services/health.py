"""Whether the process can serve: the database answers and the embedding model is loaded."""

from __future__ import annotations

from sqlalchemy import Engine, text

from app.errors import ServiceUnavailable


def readiness(engine: Engine, model: str) -> dict[str, str]:
    """The readiness report; ServiceUnavailable when the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable(f"database unreachable: {type(exc).__name__}") from exc
    return {"status": "ready", "database": "ok", "model": model}
