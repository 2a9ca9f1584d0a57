"""The `fast_exit` piece (orchestration/runtime): `vardval` exits without the interpreter's
teardown, which frees the run's heap object by object (~1.5 s of a region month).

Everything registered to run at exit runs first: non-daemon threads are joined and atexit
handlers called (logging, multiprocessing, DuckDB's). Only taken after a run whose Dagster
instance captures no compute logs (NoOpComputeLogManager, what `vardval`'s Dagster home
configures): a local compute-log manager mirrors output through `tail -F` processes that this
exit would leave holding the caller's pipes (docs/decisions.md).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading

from orchestration.runtime import enabled

_safe = False


def allow_fast_exit(instance) -> None:
    """Called by a run with its Dagster instance: the fast exit is safe if it captures no compute logs."""
    global _safe
    if not enabled("fast_exit"):
        return
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager

    _safe = isinstance(instance.compute_log_manager, NoOpComputeLogManager)


def exit_process(code: int) -> None:
    """sys.exit(code), without the teardown when the piece is on and a run allowed it."""
    if _safe and enabled("fast_exit"):
        _exit_without_teardown(code)
    sys.exit(code)


def _exit_without_teardown(code: int) -> None:
    main_thread = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main_thread and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
