"""Two cores for one analysis: UMAP's layout epochs run without holding the interpreter lock.

UMAP compiles its layout epoch with numba holding the GIL, so while a layout runs no other
thread of the process moves. :func:`release_layout_lock` compiles the same function (UMAP's own,
with the same options) with ``nogil=True`` and puts it where UMAP's layout loop looks it up, so
a layout in one thread and Python work (phrase counts, naming) or a second layout in another
run at once on two cores. The epochs compute exactly what they computed before: the seeded
layouts stay single-threaded and give the same coordinates.

If UMAP no longer has the function under that name the layouts keep the lock: slower on two
cores, the same results.

While those threads take both cores, numpy's BLAS runs on one thread (:func:`one_blas_thread`):
a matrix product split over two threads would wait on a core that is already taken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Name of UMAP's compiled single-threaded epoch of the Euclidean layout (umap-learn 0.5).
_EPOCH = "_nb_optimize_layout_euclidean_single_epoch"
#: Name of the plain Python function it is compiled from.
_EPOCH_SOURCE = "_optimize_layout_euclidean_single_epoch"

_lock = threading.Lock()
_released: bool | None = None


def release_layout_lock() -> bool:
    """Make UMAP's layout epochs release the GIL (once per process); whether they do."""
    global _released
    with _lock:
        if _released is not None:
            return _released
        try:
            import numba
            import umap.layouts as layouts

            source = getattr(layouts, _EPOCH_SOURCE)
            compiled = getattr(layouts, _EPOCH)
        except (ImportError, AttributeError) as exc:
            log.info("UMAP layouts keep the interpreter lock (%s): one core per layout", exc)
            _released = False
            return False
        options = getattr(compiled, "targetoptions", {})
        if not options.get("nogil"):
            fastmath = options.get("fastmath", True)
            setattr(layouts, _EPOCH, numba.njit(source, fastmath=fastmath, nogil=True))
        _released = True
        return True


def beside(work: Callable[[], T]) -> tuple[Future[T], Callable[[], None]]:
    """Start ``work`` in a thread of its own; its future and the call that ends the thread.

    The caller reads ``future.result()`` (which re-raises the work's error) when it needs the
    result, and calls the second value in a ``finally`` so the thread never outlives it.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="weft-beside")
    future = pool.submit(work)
    return future, lambda: pool.shutdown(wait=True)


def one_blas_thread() -> threadpool_limits:
    """Numpy's BLAS on one thread inside a ``with`` block (process-wide: BLAS has one setting).

    An analysis keeps both cores busy with threads of its own (the map beside the describing,
    the phrase counts beside the projection). A BLAS call that also splits its work over two
    threads then waits on a core that is taken: on the pooled 55,895 the describing took 3.5-3.7 s
    with two BLAS threads and 2.8-3.0 s with one, and the map beside it 4.1 s against 3.3-3.7 s.
    The thread count can change a sum's order and so, rarely, a near tie: the five labelled sets
    (seeds 0-2) and the pooled set gave the same themes on one BLAS thread as on two, a sample of
    9,000 pooled texts moved 7% of its labels (the spectral start of its projection). On one
    thread the steps after the neighbour search no longer depend on the machine's core count.
    The block restores the setting it found, so of two analyses at once in one process the later
    may finish on two BLAS threads.
    """
    return threadpool_limits(limits=1, user_api="blas")
