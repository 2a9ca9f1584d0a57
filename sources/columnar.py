"""Arrow columns at national size: a string array's buffers as numpy views, and one-off DuckDB
queries over an Arrow table (vectorised and over the cores, without copying the table)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string or large_string array, views without copying: value i is
    data[offsets[i]:offsets[i + 1]] (a null slot's bytes are meaningless, usually none)."""
    offset_type = np.int32 if array.type == pa.string() else np.int64
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=offset_type)[array.offset:array.offset + len(array) + 1]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)


@contextmanager
def duckdb_over(table: pa.Table, name: str) -> Iterator:
    """An in-memory DuckDB connection where `name` is `table` (registered, not copied)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register(name, table)
        yield con
    finally:
        con.close()
