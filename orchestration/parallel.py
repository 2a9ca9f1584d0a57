"""CPU-bound work (reading and validating deliveries, openpyxl workbooks, matplotlib charts) over the cores.

The items are prepared in this process; forked workers inherit them (only an index goes out
and a small result comes back), do their work on them — no warehouse connection, no Dagster,
no logging; at most an in-memory DuckDB of their own (pseudonymisation) — and return. Results
come back in the items' order, so the output does not depend on the number of workers.
`VARDVAL_WORKERS` sets it (see worker_count).
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def worker_count() -> int:
    """VARDVAL_WORKERS, default 2 (or the machine's cores, if fewer); 1 keeps one process.

    Off by default during session 2, while a `vardval run` with piped output hung in the test
    suite; the cause was Dagster's compute-log `tail -F` processes, not the workers, and the
    CLI's Dagster home captures no compute logs since (docs/decisions.md)."""
    configured = os.environ.get("VARDVAL_WORKERS", "").strip()
    return max(1, int(configured)) if configured else max(1, min(2, os.cpu_count() or 1))


def _run(index: int) -> Any:
    fn, items = _JOB  # type: ignore[misc]
    return fn(items[index])


def map_forked(fn: Callable[[Any], Any], items: Sequence[Any], min_items_per_worker: int = 2) -> list[Any]:
    """[fn(item) for item in items], over forked worker processes when there is enough work."""
    global _JOB
    items = list(items)
    workers = min(worker_count(), len(items) // max(1, min_items_per_worker))
    if workers <= 1 or multiprocessing.current_process().daemon or _JOB is not None:
        return [fn(item) for item in items]
    _JOB = (fn, items)
    try:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
        try:
            results = pool.map(_run, range(len(items)), chunksize=max(1, len(items) // (workers * 4)))
        except BaseException:
            pool.terminate()
            pool.join()
            raise
        # Let the workers finish on their own: terminate() relies on SIGTERM, and a handler this
        # process installed (Dagster's, a test's) is inherited by the workers and can keep one alive.
        pool.close()
        pool.join()
        return results
    finally:
        _JOB = None


def _default_signals() -> None:
    """In a worker: the default SIGTERM/SIGINT, not the handlers inherited from the parent."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
