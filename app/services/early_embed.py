"""Embedding an upload's texts while it is being stored.

An upload is read into a spool file first, then stored in one transaction. The texts are known
once the spool is written, so a thread embeds them while the store runs: the model computes
while the database writes, and the embedding job that the store queues finds them cached.
The thread stops once the store has committed (after the chunk it is on): what is left is the
embedding job's, which a large upload splits across the workers (app/jobs/fanout.py).
Vectors are keyed by text, never by narrative, so vectors of an upload whose store then fails
leave nothing wrong behind: they serve the next upload of the same words, or nobody.

Long texts are left to the embedding job, which cuts them into segments. On SQLite, whose one
writer is the store's transaction, the vectors made during the store wait in memory and are
written when it has committed; on PostgreSQL they are written as they are made.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.embeddings import store_vectors
from models import Embedding
from pipelines.embed import Embedder, FloatMatrix, normalize_text, text_hash
from pipelines.segments import segment, token_counter

log = logging.getLogger(__name__)

#: opens a short unit of work (a job's `ctx.session`)
Units = Callable[[], AbstractContextManager[Session]]

_IN_CHUNK = 500


def _cached(session: Session, model: str, hashes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), _IN_CHUNK):
        chunk = hashes[start : start + _IN_CHUNK]
        found.update(
            session.scalars(
                select(Embedding.text_hash).where(
                    Embedding.model == model, Embedding.text_hash.in_(chunk)
                )
            )
        )
    return found


class EarlyEmbedding:
    """Embeds texts on a thread of its own while the caller stores them.

    `storing()` is called before the store's transaction opens (and before `start(texts)`,
    which begins, so nothing is written just as it opens) and
    `stored()` after it commits (or `abandon()` if it fails); `finish()` stops the thread after
    the chunk it is on and returns how many vectors were stored. `report(done, total)` is
    called, inside a unit of work, whenever vectors are written. `reads` opens the unit in
    which the thread looks up the vectors already stored: one that writes nothing (a job's
    unit renews its lease, which on SQLite would wait for the store to commit), `units` when
    not given.
    """

    def __init__(
        self,
        units: Units,
        embedder: Embedder,
        chunk_size: int,
        *,
        concurrent_writes: bool,
        report: Callable[[Session, int, int], None] | None = None,
        reads: Units | None = None,
    ) -> None:
        self._units = units
        self._reads = reads or units
        self._embedder = embedder
        self._chunk_size = chunk_size
        self._concurrent = concurrent_writes
        self._report = report
        # held by whoever writes: the thread for a chunk of vectors, the caller to start its store
        self._gate = threading.Lock()
        self._may_write = True
        self._pending: list[tuple[list[str], FloatMatrix]] = []
        # abandoned: drop everything; enough: write the chunk in hand, then end
        self._stop = threading.Event()
        self._enough = threading.Event()
        self._thread: threading.Thread | None = None
        self.total = 0
        self.done = 0
        self.error: BaseException | None = None

    def start(self, texts: Iterable[str]) -> None:
        distinct: dict[str, str] = {}
        for text in texts:
            canonical = normalize_text(text)
            if canonical:
                distinct.setdefault(text_hash(canonical), canonical)
        self._thread = threading.Thread(
            target=self._run, args=(distinct,), name="weft-early-embed", daemon=True
        )
        self._thread.start()

    def storing(self) -> None:
        """The store is about to open its transaction: on SQLite, hold vectors from now on."""
        if self._concurrent:
            return
        with self._gate:
            self._may_write = False

    def stored(self) -> None:
        """The store has committed: write what was held, and the rest as it comes."""
        with self._gate:
            self._may_write = True
            for hashes, vectors in self._pending:
                self._write(hashes, vectors)
            self._pending = []

    def abandon(self) -> None:
        """The store failed: stop embedding and forget what was held."""
        self._stop.set()
        with self._gate:
            self._pending = []
        if self._thread is not None:
            self._thread.join()

    def finish(self, check: Callable[[], None] = lambda: None, poll: float = 1.0) -> int:
        """Stop the thread after the chunk it is on, calling `check` (the job's time and lease
        check) while it ends; a failure of the thread is logged and left to the embedding job."""
        self._enough.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    check()
                except BaseException:
                    self.abandon()
                    raise
                self._thread.join(poll)
        if self.error is not None:
            log.warning(
                "embedding during the store stopped (%s); the embedding job embeds the rest",
                type(self.error).__name__,
            )
        return self.done

    def _run(self, distinct: dict[str, str]) -> None:
        try:
            with self._reads() as session:
                known = _cached(session, self._embedder.name, list(distinct))
            todo = [(h, t) for h, t in distinct.items() if h not in known]
            # shortest first, and each chunk's texts measured in word pieces only when it
            # comes up: measuring them all first took longer than many stores
            todo.sort(key=lambda item: len(item[1]))
            self.total = len(todo)
            counter = token_counter(self._embedder)
            for texts in _chunks(todo, self._chunk_size):
                if self._stop.is_set() or self._enough.is_set():
                    return
                plans = segment([t for _, t in texts], counter)
                # long texts are cut into segments by the embedding job
                chunk = [item for item, plan in zip(texts, plans, strict=True) if plan is None]
                self.total -= len(texts) - len(chunk)
                if not chunk:
                    continue
                hashes = [h for h, _ in chunk]
                vectors = self._embedder.encode([t for _, t in chunk])
                with self._gate:
                    if not self._may_write:
                        self._pending.append((hashes, vectors))
                        continue
                    self._write(hashes, vectors)
        except Exception as exc:
            self.error = exc

    def _write(self, hashes: list[str], vectors: FloatMatrix) -> None:
        """Store one chunk's vectors; called with the gate held."""
        if self._stop.is_set():
            return
        with self._units() as session:
            store_vectors(session, self._embedder.name, hashes, np.asarray(vectors))
            self.done += len(hashes)
            if self._report is not None:
                self._report(session, self.done, self.total)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
