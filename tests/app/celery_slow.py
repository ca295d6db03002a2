"""The Celery app of the kill -9 tests' workers: Weft's tasks with the hash embedder instead of
the packaged model, slowed down so a test can kill a worker while it embeds or clusters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from celery.signals import worker_process_init

from app.jobs import context
from app.jobs.celery_runner import celery_app
from app.services import analyses
from pipelines.embed import FloatMatrix, HashEmbedder

__all__ = ["celery_app"]

#: seconds each chunk of texts takes to embed, and an analysis's clustering takes at least
EMBED_PAUSE = 0.15
CLUSTER_PAUSE = 3.0


class SlowHashEmbedder(HashEmbedder):
    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        time.sleep(EMBED_PAUSE)
        return super().encode(texts)


@worker_process_init.connect
def _slow(**_kwargs: Any) -> None:
    """In the worker's pool processes only: the embedder is built through this name, and the
    clustering waits before it starts."""
    context.build_embedder = lambda *_args: SlowHashEmbedder(16)  # type: ignore[assignment,misc]
    cluster = analyses.cluster

    def slow_cluster(*args: Any, **kwargs: Any) -> Any:
        time.sleep(CLUSTER_PAUSE)
        return cluster(*args, **kwargs)

    analyses.cluster = slow_cluster  # type: ignore[assignment]
