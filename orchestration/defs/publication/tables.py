"""The published tables (SPEC §7) and how one month of them is read, ordered, hashed and written.

Shared by the gate (fingerprint of a month's content) and the publisher (Parquet per table),
so that what the checks saw and what gets published are hashed by the very same function.

A month's content is, per table, its rows for the month (the table's key, then every other
column, fixes the order of the Parquet rows). `vardcentraler` is not monthly: a month
publishes the units open at some time during the month, each with its registry row valid on
the month's last day (so a unit opened later, or a new row valid from a later month, does not
change an earlier month's content).

The content hash is computed inside DuckDB, in parallel and without moving a row to Python:
the column names and types, the row count, and the sum of DuckDB's 64-bit `hash` of each row.
It depends on values and types only, not on row order or on how the table is stored. The
gate, the publisher and the status take it several times per month, so it must be cheap:
`hash` reads the values as they are stored (0.08 s for twelve region months of person rows),
where an MD5 over each row's JSON text spent 2.9 s turning the rows into text. DuckDB does not
promise that `hash` stays the same across its versions: a test pins the digest of a fixed
table, so an upgrade that changes it fails there instead of making every published month
look changed. Parquet is streamed from DuckDB in Arrow batches (a national
month holds 10.6 million person rows), re-chunked to fixed-size row groups so the bytes do not
depend on how DuckDB happened to chunk its output.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from core.months import check_month
from core.published_tables import DERIVED_COLUMNS, MARTS_SCHEMA, NON_MONTHLY, PUBLISHED_TABLES, registry_month_filter
from core.warehouse import table_columns, table_exists

ROW_GROUP_SIZE = 262_144
# zstd level 1, not 3: a national month's reimbursement_person_monthly (10.6 M rows, mostly
# random hex person keys) writes in 4.9 s against 9.3 s, and takes 412 MiB against 425 MiB.
PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=1,
    use_dictionary=True,
    write_statistics=True,
    version="2.6",
    data_page_version="1.0",
    store_schema=True,
)


def _month_filter(table: str, month: str) -> str:
    check_month(month)
    if table in NON_MONTHLY:
        return registry_month_filter(month)
    return f"month = '{month}'"


def _require_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    if not table_exists(con, schema, table):
        raise LookupError(f"table {schema}.{table} does not exist in the warehouse")


def month_query(con: duckdb.DuckDBPyConnection, table: str, month: str, schema: str = MARTS_SCHEMA) -> str:
    """SQL for the month's rows of a published table in its total, deterministic order."""
    _require_table(con, schema, table)
    columns = table_columns(con, schema, table)
    keys = [k for k in PUBLISHED_TABLES[table] if k in columns]
    order = keys + [c for c in columns if c not in keys]
    select = ", ".join(f'"{c}"' for c in columns)
    order_by = ", ".join(f'"{c}" asc nulls first' for c in order)
    return f'select {select} from "{schema}"."{table}" where {_month_filter(table, month)} order by {order_by}'


def month_digest(con: duckdb.DuckDBPyConnection, table: str, month: str,
                 schema: str = MARTS_SCHEMA) -> tuple[int, str]:
    """(rows, content hash) of the month's rows of `table` (see the module docstring)."""
    return month_digests(con, table, [month], schema)[month]


def month_digests(con: duckdb.DuckDBPyConnection, table: str, months: list[str],
                  schema: str = MARTS_SCHEMA) -> dict[str, tuple[int, str]]:
    """month_digest for several months; a monthly table is scanned once for all of them."""
    _require_table(con, schema, table)
    types = [(c, t) for c, t in con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position", [schema, table]).fetchall() if c not in DERIVED_COLUMNS]
    row_hash = "coalesce(sum(hash(_row)::hugeint), 0)"
    derived = [c for c in table_columns(con, schema, table) if c in DERIVED_COLUMNS]
    source = (f'(select * exclude ({", ".join(chr(34) + c + chr(34) for c in derived)}) from "{schema}"."{table}")'
              if derived else f'"{schema}"."{table}"')
    found: dict[str, tuple[int, int]] = {}
    if table in NON_MONTHLY:   # each month has its own filter
        for month in months:
            found[month] = con.execute(f'select count(*), {row_hash} from {source} _row '
                                       f'where {_month_filter(table, month)}').fetchone()
    else:
        wanted = ", ".join(f"'{check_month(m)}'" for m in months)
        for month, rows, row_sum in con.execute(
                f'select month, count(*), {row_hash} from {source} _row '
                f'where month in ({wanted}) group by month').fetchall():
            found[month] = (rows, row_sum)
    out = {}
    for month in months:
        rows, row_sum = found.get(month, (0, 0))
        text = f"{table}\n{types}\n{rows}\n{row_sum}\n"
        out[month] = (int(rows), hashlib.sha256(text.encode()).hexdigest())
    return out


def _fixed_batches(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """Re-chunk a stream into tables of exactly `size` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= size:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, size).combine_chunks()
            rest = table.slice(size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending, schema=reader.schema).combine_chunks()


@dataclass
class ExportedTable:
    table: str
    rows: int
    content_hash: str
    path: Path | None


def write_month_parquet(con: duckdb.DuckDBPyConnection, table: str, month: str, parquet_path: Path,
                        schema: str = MARTS_SCHEMA) -> int:
    """Write the month's rows of `table` to Parquet in their deterministic order; the row count."""
    reader = con.sql(month_query(con, table, month, schema)).to_arrow_reader(65_536)
    arrow_schema = reader.schema
    rows = 0
    with pq.ParquetWriter(str(parquet_path), arrow_schema, **PARQUET_OPTIONS) as writer:
        for chunk in _fixed_batches(reader, ROW_GROUP_SIZE):
            rows += chunk.num_rows
            writer.write_table(chunk, row_group_size=ROW_GROUP_SIZE)
        if rows == 0:
            writer.write_table(arrow_schema.empty_table())
    return rows


def export_month_table(con: duckdb.DuckDBPyConnection, table: str, month: str,
                       parquet_path: Path | None = None, schema: str = MARTS_SCHEMA,
                       digest: tuple[int, str] | None = None) -> ExportedTable:
    """The month's rows of `table`: hashed (unless its month_digest is given) and, if a path is
    given, written as Parquet."""
    rows, content_hash = digest or month_digest(con, table, month, schema)
    if parquet_path is not None:
        written = write_month_parquet(con, table, month, parquet_path, schema)
        if written != rows:   # same connection, same snapshot: cannot differ unless DuckDB misbehaves
            raise RuntimeError(f"{table} {month}: {written} rows written, {rows} hashed")
    return ExportedTable(table, rows, content_hash, parquet_path)


def combine_hashes(table_hashes: dict[str, str]) -> str:
    """The month's content hash (the gate's fingerprint) from the per-table hashes."""
    digest = hashlib.sha256()
    for table in PUBLISHED_TABLES:
        digest.update(f"{table}:{table_hashes.get(table, 'missing')}\n".encode())
    return digest.hexdigest()
