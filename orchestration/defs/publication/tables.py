"""The published tables (SPEC §7) and how one month of them is read, ordered, hashed and written.

Shared by the gate (fingerprint of a month's content) and the publisher (Parquet per table),
so that what the checks saw and what gets published are hashed by the very same function.

A month's content is, per table, its rows for the month (the table's key, then every other
column, fixes the order of the Parquet rows). Three tables are not monthly; a month publishes
the rows that apply to it: `vardcentraler` the units open at some time during the month, each
with its registry row valid on the month's last day (so a unit opened later, or a new row valid
from a later month, does not change an earlier month's content); `indicator_catalog` every code;
`targets` the targets of the model version valid on the month's first day.

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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
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
    "vardcentraler": ("hsa_id", "valid_from"),
    "indicator_catalog": ("indicator_code",),
    "targets": ("model_version_id", "target_kind", "target_order"),
}
# Tables that are not monthly -> the columns naming what a newer month's rows replace in the
# table readers get (every row of any published month, as in its latest month that has it): a
# registry row, an indicator code, all targets of a model version.
NON_MONTHLY: dict[str, tuple[str, ...]] = {
    "vardcentraler": ("hsa_id", "valid_from"),
    "indicator_catalog": ("indicator_code",),
    "targets": ("model_version_id",),
}
# Published tables a month may publish without rows (a model version without goals or targets).
MAY_BE_EMPTY = frozenset({"targets"})
# Columns published.duckdb adds for readers (published_db.DERIVED_COLUMNS), each a function of
# another column: not content, so a month's content hash leaves them out wherever it is taken.
DERIVED_COLUMNS = frozenset({"month_start", "age_band_order", "capitation_band_order"})
MARTS_SCHEMA = "marts"

ROW_GROUP_SIZE = 262_144
# zstd level 1, not 3: a national month's reimbursement_person_monthly (10.6 M rows, mostly
# random hex person keys) wrote in 4.9 s instead of 9.3 s, and 412 MiB instead of 425 MiB.
PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=1,
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


def registry_month_filter(month: str) -> str:
    """SQL condition on marts.vardcentraler: the units open at some time during the month, each
    with its row valid on the month's last day (SPEC §3.5; valid_from/valid_to null = open)."""
    first, last = month_bounds(month)
    return (f"(valid_from is null or cast(valid_from as date) <= date '{last}') and "
            f"(valid_to is null or cast(valid_to as date) >= date '{last}') and "
            f"cast(opened_on as date) <= date '{last}' and "
            f"(closed_on is null or cast(closed_on as date) >= date '{first}')")


def _month_filter(table: str, month: str) -> str:
    first, _ = month_bounds(month)
    if table == "vardcentraler":
        return registry_month_filter(month)
    if table == "indicator_catalog":
        return "true"
    if table == "targets":
        # The model version valid on the month's first day (SPEC §3.5). Its end is read from
        # raw.model_versions, not published with the targets: a new version ending the one before
        # would otherwise change the targets of every month already published under it.
        return ("model_version_id in (select version_id from raw.model_versions "
                f"where valid_from <= date '{first}' and (valid_to is null or valid_to >= date '{first}'))")
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
