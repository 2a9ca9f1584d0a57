"""The published tables (SPEC §7) and how one month of them is read, ordered, hashed and written.

Shared by the gate (fingerprint of a month's content) and the publisher (Parquet per table),
so that what the checks saw and what gets published are hashed by the very same function.

A month's content is, per table, its rows for the month in a total, deterministic order (the
table's key, then every other column, nulls first). `vardcentraler` is not monthly: a month
publishes the units open at some time during the month (so a unit opened later does not
change an earlier month's content).

Rows are streamed from DuckDB in Arrow batches (a national month holds 10.6 million person
rows), re-chunked to fixed-size row groups so the Parquet bytes do not depend on how DuckDB
happened to chunk its output, and hashed as CSV text, which depends on values and types only.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# table -> key columns (the grain of docs/architecture.md), in sort order
PUBLISHED_TABLES: dict[str, tuple[str, ...]] = {
    "indicators_monthly": ("month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"),
    "listing_monthly": ("month", "vardcentral_hsa_id", "age_band", "sex"),
    "contacts_monthly": ("month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"),
    "reimbursement_monthly": ("month", "vardcentral_hsa_id"),
    "reimbursement_person_monthly": ("month", "person_key"),
    "data_quality_monthly": ("month", "source", "source_file", "reason"),
    "vardcentraler": ("hsa_id",),
}
NON_MONTHLY = frozenset({"vardcentraler"})
MARTS_SCHEMA = "marts"

ROW_GROUP_SIZE = 262_144
PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=True,
    write_statistics=True,
    version="2.6",
    data_page_version="1.0",
    store_schema=True,
)


def check_month(month: str) -> str:
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise ValueError(f"month must be 'YYYY-MM', got {month!r}")
    return month


def month_bounds(month: str) -> tuple[str, str]:
    """First and last day of the month as ISO strings."""
    import calendar

    year, mon = (int(p) for p in check_month(month).split("-"))
    last = calendar.monthrange(year, mon)[1]
    return f"{year:04d}-{mon:02d}-01", f"{year:04d}-{mon:02d}-{last:02d}"


def previous_month(month: str) -> str:
    year, mon = (int(p) for p in check_month(month).split("-"))
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def month_query(con: duckdb.DuckDBPyConnection, table: str, month: str, schema: str = MARTS_SCHEMA) -> str:
    """SQL for the month's rows of a published table in its total, deterministic order."""
    check_month(month)
    if not table_exists(con, schema, table):
        raise LookupError(f"table {schema}.{table} does not exist in the warehouse")
    columns = table_columns(con, schema, table)
    keys = [k for k in PUBLISHED_TABLES[table] if k in columns]
    order = keys + [c for c in columns if c not in keys]
    select = ", ".join(f'"{c}"' for c in columns)
    order_by = ", ".join(f'"{c}" asc nulls first' for c in order)
    if table in NON_MONTHLY:
        first, last = month_bounds(month)
        where = (f"cast(opened_on as date) <= date '{last}' and "
                 f"(closed_on is null or cast(closed_on as date) >= date '{first}')")
    else:
        where = f"month = '{month}'"
    return f'select {select} from "{schema}"."{table}" where {where} order by {order_by}'


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


class _HashSink:
    """A write-only file object that feeds a sha256."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@dataclass
class ExportedTable:
    table: str
    rows: int
    content_hash: str
    path: Path | None


def export_month_table(con: duckdb.DuckDBPyConnection, table: str, month: str,
                       parquet_path: Path | None = None, schema: str = MARTS_SCHEMA) -> ExportedTable:
    """Stream the month's rows of `table`: hash them and, if a path is given, write Parquet."""
    reader = con.sql(month_query(con, table, month, schema)).to_arrow_reader(65_536)
    arrow_schema = reader.schema
    sink = _HashSink()
    sink.write(f"{table}\n{arrow_schema.to_string(show_schema_metadata=False)}\n".encode())
    csv_writer = pacsv.CSVWriter(sink, arrow_schema,
                                 write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    pq_writer = pq.ParquetWriter(str(parquet_path), arrow_schema, **PARQUET_OPTIONS) if parquet_path else None
    rows = 0
    try:
        for chunk in _fixed_batches(reader, ROW_GROUP_SIZE):
            rows += chunk.num_rows
            csv_writer.write_table(chunk)
            if pq_writer is not None:
                pq_writer.write_table(chunk, row_group_size=ROW_GROUP_SIZE)
        if pq_writer is not None and rows == 0:
            pq_writer.write_table(arrow_schema.empty_table())
    finally:
        csv_writer.close()
        if pq_writer is not None:
            pq_writer.close()
    return ExportedTable(table, rows, sink.digest.hexdigest(), parquet_path)


def combine_hashes(table_hashes: dict[str, str]) -> str:
    """The month's content hash (the gate's fingerprint) from the per-table hashes."""
    digest = hashlib.sha256()
    for table in PUBLISHED_TABLES:
        digest.update(f"{table}:{table_hashes.get(table, 'missing')}\n".encode())
    return digest.hexdigest()
