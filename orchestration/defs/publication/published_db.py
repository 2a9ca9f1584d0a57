"""What makes `published.duckdb` readable by BI tools (SPEC §7): the storage version DuckDB 1.x
reads, the columns derived for readers (`month_start`, band sort orders, `published_at` as a
timestamp), a description on every table and column, and the data dictionary beside the Parquet.

One source of descriptions: the dbt YAML of the marts (`dbt_project/models/marts/**/*.yml`),
plus `DERIVED_COLUMNS` and `PUBLISHED_VERSIONS` here for what the publication itself adds. Any
table in the file that has a description there gets its comments and dictionary rows, so a new
published mart needs only its YAML.

The file holds tables only, never views over Parquet: a view names its files by absolute path
(DuckDB resolves a relative one against the reader's working directory, not the database file),
so a copy of `published/` on a file share would read the original's files or none.
"""
from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path

import duckdb
import yaml

from core import published_tables
from orchestration.defs.publication.payouts import TABLE_DESCRIPTIONS as PAYOUT_TABLES

MARTS_DIR = Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "marts"
# The oldest storage format that holds everything the file needs; DuckDB 1.0 and later read it
# (the default of DuckDB 2.x, v2.0.0+, only DuckDB 2.x reads).
STORAGE_VERSION = "v1.0.0"

# column -> (SQL from the table's own columns, description); added where the source column exists
DERIVED_COLUMNS: dict[str, tuple[str, str, str]] = {
    "month_start": ("month", "cast(\"month\" || '-01' as date)",
                    "First day of the month, as a date (the same month as `month`)."),
    "age_band_order": ("age_band", "cast(regexp_extract(\"age_band\", '^[0-9]+') as integer)",
                       "Sort order of `age_band`: its lowest age in years."),
    "capitation_band_order": ("capitation_band",
                              "cast(regexp_extract(\"capitation_band\", '^[0-9]+') as integer)",
                              "Sort order of `capitation_band`: its lowest age in years."),
}
assert set(DERIVED_COLUMNS) == published_tables.DERIVED_COLUMNS

PUBLISHED_VERSIONS = (
    "published_versions",
    "The version of every month this file holds: the latest published version of each month "
    "(SPEC §7). Older versions stay as Parquet under versions/<month>/v<NNNN>/ with their manifest.",
    {
        "month": "'YYYY-MM'",
        "version": "Version number of the month's publication (1, 2, ...); a correction is N+1.",
        "content_hash": "SHA-256 of the month's published content (the gate's fingerprint).",
        "published_at": "When the version was published (UTC).",
    },
)


def connect_new(path: Path) -> duckdb.DuckDBPyConnection:
    """A new database file at `path` in STORAGE_VERSION."""
    return duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})


def storage_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The storage version tag of the connection's database (e.g. 'v1.0.0+')."""
    row = con.execute("select tags from duckdb_databases() where database_name = current_database()").fetchone()
    return (row[0] or {}).get("storage_version") if row else None


def published_select(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """SELECT of `source` (a FROM expression) with the derived columns of DERIVED_COLUMNS
    whose source column it has (and does not carry already)."""
    columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()]
    extra = [f'{sql} as "{name}"' for name, (col, sql, _) in DERIVED_COLUMNS.items()
             if col in columns and name not in columns]
    return f"select *{''.join(', ' + e for e in extra)} from {source}"


def create_published_versions(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """published_versions from (month, version, content_hash, published_at ISO text) rows."""
    con.execute("create or replace table published_versions (month varchar, version integer, "
                "content_hash varchar, published_at timestamp with time zone)")
    con.executemany("insert into published_versions values (?, ?, ?, cast(? as timestamp with time zone))",
                    [list(r) for r in rows])


def load_descriptions(marts_dir: Path = MARTS_DIR) -> dict[str, tuple[str, dict[str, str]]]:
    """table -> (description, {column: description}) from the marts' dbt YAML, the derived
    columns, published_versions and the payout tables (payouts.TABLE_DESCRIPTIONS)."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for path in sorted(marts_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            columns = {c["name"]: " ".join(str(c.get("description") or "").split())
                       for c in model.get("columns") or []}
            out[model["name"]] = (" ".join(str(model.get("description") or "").split()), columns)
    name, text, columns = PUBLISHED_VERSIONS
    out[name] = (text, dict(columns))
    out.update(PAYOUT_TABLES)
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_description(descriptions: dict, table: str, column: str) -> str:
    derived = DERIVED_COLUMNS.get(column)
    if derived is not None:
        return derived[2]
    return descriptions.get(table, ("", {}))[1].get(column, "")


def describe_tables(con: duckdb.DuckDBPyConnection, descriptions: dict | None = None) -> None:
    """COMMENT ON every table of the file that has a description, and on each of its columns."""
    descriptions = load_descriptions() if descriptions is None else descriptions
    tables = [r[0] for r in con.execute("select table_name from duckdb_tables() "
                                        "where database_name = current_database()").fetchall()]
    for table in tables:
        if table not in descriptions:
            continue
        con.execute(f'comment on table "{table}" is {_literal(descriptions[table][0])}')
        for (column,) in con.execute("select column_name from duckdb_columns() where database_name = "
                                     "current_database() and table_name = ?", [table]).fetchall():
            text = column_description(descriptions, table, column)
            if text:
                con.execute(f'comment on column "{table}"."{column}" is {_literal(text)}')


def write_dictionary(db_path: Path, dst: Path) -> Path:
    """dictionary.csv (table, column, type, description; a table's own row has column empty)
    from the comments of the file at db_path, so it says what the file says."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = con.execute("select table_name, comment from duckdb_tables() where database_name = "
                             "current_database() order by table_name").fetchall()
        columns = con.execute("select table_name, column_name, data_type, comment from duckdb_columns() "
                              "where database_name = current_database() "
                              "order by table_name, column_index").fetchall()
    by_table: dict[str, list] = {}
    for table, column, data_type, comment in columns:
        by_table.setdefault(table, []).append((column, data_type, comment))
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["table", "column", "type", "description"])
            for table, comment in tables:
                writer.writerow([table, "", "", comment or ""])
                for column, data_type, col_comment in by_table.get(table, []):
                    writer.writerow([table, column, data_type, col_comment or ""])
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
