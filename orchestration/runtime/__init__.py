"""The speed and memory measures of a run, behind one switch: `VARDVAL_RUNTIME` (settings.py).

`fast` (the default) takes every piece below; `plain` takes none, and a run is then stock
Dagster and dagster-dbt: `DbtCliResource` running `dbt build` in a subprocess, Dagster's own
SQLite event log, everything in the run's process, the interpreter's normal exit. A
comma-separated list of pieces takes those alone (how docs/performance.md measures each one
against plain). Both positions publish the same bytes (tests/test_runtime.py).

| piece         | module                 | what it saves                                             |
|---------------|------------------------|-----------------------------------------------------------|
| `dbt_worker`  | dbt_worker.py          | dbt imported and the project parsed while the run ingests |
| `lean_dbt`    | dbt_resource.py,       | no `dbt --version`, no in-process dbt adapter, and        |
|               | dagster_dbt_import.py  | dagster-dbt imported without dbt-core                     |
| `eventlog`    | eventlog.py            | Dagster's SQLite event log with its connections kept open |
| `ge_preload`  | preload.py             | Great Expectations imported while dbt runs                |
| `fork_pool`   | parallel.py            | reading, workbooks and charts over forked workers         |
| `malloc_trim` | memory.py              | freed memory handed back between a run's stages           |
| `fast_exit`   | exit.py                | `vardval` exits without the interpreter's teardown        |

Nothing here acts at import: each piece is a function its caller calls, and each asks
`enabled` at call time. This module imports only settings, so that the dbt worker and its
client (`python -m orchestration.runtime.dbt_worker`, `vardval-dbt`) start in milliseconds.
"""
from __future__ import annotations

from core.settings import RUNTIME_PIECES, get_settings


def enabled(piece: str) -> bool:
    """Whether VARDVAL_RUNTIME takes this piece (read now: tests and the benchmark set it)."""
    if piece not in RUNTIME_PIECES:
        raise ValueError(f"{piece!r} is not a runtime piece ({', '.join(RUNTIME_PIECES)})")
    return piece in get_settings().runtime
