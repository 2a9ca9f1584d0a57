"""The `fork_pool` piece (orchestration/runtime): CPU-bound work (reading and validating
deliveries, openpyxl workbooks, matplotlib charts) over the cores.

The items are prepared in this process; forked workers inherit them (only an index goes out
and a small result comes back), do their work on them — no warehouse connection, no Dagster,
no logging; at most an in-memory DuckDB of their own (pseudonymisation) — and return. Results
come back in the items' order, so the output does not depend on the number of workers.
`VARDVAL_WORKERS` sets it (see worker_count); with the piece off, everything stays in this process.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from orchestration.runtime import enabled

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def worker_count() -> int:
    """VARDVAL_WORKERS, default 2 (or the machine's cores, if fewer); 1 keeps one process, as
    does the `fork_pool` piece off."""
    if not enabled("fork_pool"):
        return 1
    configured = os.environ.get("VARDVAL_WORKERS", "").strip()
    return max(1, int(configured)) if configured else max(1, min(2, os.cpu_count() or 1))


def _run(index: int) -> Any:
    fn, items = _JOB  # type: ignore[misc]
    return fn(items[index])


def map_forked(fn: Callable[[Any], Any], items: Sequence[Any], min_items_per_worker: int = 2) -> list[Any]:
    """[fn(item) for item in items], over forked worker processes when there is enough work."""
    items = list(items)
    workers = _workers(len(items), min_items_per_worker)
    if workers <= 1:
        return [fn(item) for item in items]
    with _pool(fn, items, workers) as pool:
        return pool.map(_run, range(len(items)), chunksize=max(1, len(items) // (workers * 4)))


def imap_forked(fn: Callable[[Any], Any], items: Sequence[Any], ahead: int = 2) -> Iterator[Any]:
    """map_forked's results one at a time, in the items' order, while the workers go on with the
    next items: the caller works on each result (stores it, say) as the next ones are made.
    At most `ahead` items per worker are started beyond the one the caller waits for, so
    results do not pile up in memory when the caller is the slower side."""
    items = list(items)
    workers = _workers(len(items), 1)
    if workers <= 1:
        yield from (fn(item) for item in items)
        return
    with _pool(fn, items, workers) as pool:
        started: collections.deque = collections.deque()
        upcoming = iter(range(len(items)))
        for index in itertools.islice(upcoming, workers * ahead + 1):
            started.append(pool.apply_async(_run, (index,)))
        while started:
            started[0].wait()
            for index in itertools.islice(upcoming, 1):
                started.append(pool.apply_async(_run, (index,)))
            # Yielded without a local: a suspended generator keeps its locals, and a result
            # the caller has finished with must not outlive its turn.
            yield started.popleft().get()


def _workers(items: int, min_items_per_worker: int) -> int:
    """How many workers; 1 (stay in this process) also inside a worker or another map's pool."""
    if multiprocessing.current_process().daemon or _JOB is not None:
        return 1
    return min(worker_count(), items // max(1, min_items_per_worker))


@contextlib.contextmanager
def _pool(fn: Callable[[Any], Any], items: list[Any], workers: int) -> Iterator[Any]:
    global _JOB
    _JOB = (fn, items)
    try:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
        try:
            yield pool
        except BaseException:   # also a consumer that stops early (GeneratorExit)
            pool.terminate()
            pool.join()
            raise
        # Let the workers finish on their own: terminate() relies on SIGTERM, and a handler this
        # process installed (Dagster's, a test's) is inherited by the workers and can keep one alive.
        pool.close()
        pool.join()
    finally:
        _JOB = None


def _default_signals() -> None:
    """In a worker: the default SIGTERM/SIGINT, not the handlers inherited from the parent."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
