from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import RuntimeDep
from app.services import health as health_service

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> dict[str, Any]:
    """The database answers and the embedding model is loaded."""
    return health_service.readiness(runtime.engine, runtime.embedder.name)
