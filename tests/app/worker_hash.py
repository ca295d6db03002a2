"""Imported at start-up (through a `sitecustomize` the worker tests write) by a real `weft serve`
and by the job worker it starts: the hash embedder instead of the packaged model, slowed by
WEFTTEST_EMBED_PAUSE seconds per call, and each call's process id appended to
WEFTTEST_EMBED_LOG, so a test sees which process embedded."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from app.jobs import context
from pipelines.embed import FloatMatrix, HashEmbedder


class LoggedHashEmbedder(HashEmbedder):
    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        time.sleep(float(os.environ.get("WEFTTEST_EMBED_PAUSE", "0")))
        log = os.environ.get("WEFTTEST_EMBED_LOG")
        if log:
            with open(log, "a") as out:
                out.write(f"{os.getpid()}\n")
        return super().encode(texts)


context.build_embedder = lambda *_args: LoggedHashEmbedder(16)  # type: ignore[assignment,misc]
