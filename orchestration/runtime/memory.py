"""The `malloc_trim` piece (orchestration/runtime): handing freed memory back to the operating
system between a run's stages.

Freed Arrow buffers stay in pyarrow's allocator (mimalloc) and freed Python and pandas objects
in glibc's arenas: after a national ingest the run's process still held ~2.7 GiB it no longer
used, beside dbt's DuckDB process. Releasing them brings it back to a few hundred MiB.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

from orchestration.runtime import enabled


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def release_freed_memory() -> None:
    if not enabled("malloc_trim"):
        return
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
