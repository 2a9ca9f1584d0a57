"""The files BI and open-data readers take beside the versions, rebuilt from the catalog's latest
versions when a commit changes them (written into the commit's staging folder, swapped in by
commit.py): each month's current Parquet, the open-data CSV with suppressed cells nulled, and
the Parquet of each table that is not monthly (the registry, the indicator catalogue, the
targets: every row of any published month).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from core.published_tables import NON_MONTHLY, PUBLISHED_TABLES
from orchestration.defs.publication.layout import current_path, latest_dirs, open_data_path, version_dir
from orchestration.defs.publication.suppression import register_open_cells
from orchestration.defs.publication.tables import PARQUET_OPTIONS

MONTHLY_TABLES = [t for t in PUBLISHED_TABLES if t not in NON_MONTHLY]


def replace_with_link(src: Path, dst: Path) -> None:
    """dst becomes src's file, swapped in whole. A hard link where the file system allows one:
    version files are never written again, and a national person table is ~400 MB to copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def key_order(table: str) -> str:
    """ORDER BY list of a published table's key (nulls first)."""
    return ", ".join(f'"{k}" nulls first' for k in PUBLISHED_TABLES[table])


def write_whole_table(published: Path, catalog: dict, table: str, dst: Path) -> Path | None:
    """<table>/data.parquet at dst for a table that is not monthly: every row of any published
    month, as in its latest month that has it (a registry row, an indicator code, the targets of
    a model version: core.published_tables.NON_MONTHLY). None when no published month has the table."""
    found = {str(d / f"{table}.parquet"): m for m, d in latest_dirs(published, catalog).items()
             if (d / f"{table}.parquet").exists()}
    if not found:
        return None
    group = ", ".join(f'"{c}"' for c in NON_MONTHLY[table])
    con = duckdb.connect()
    try:
        con.register("file_months", pd.DataFrame({"filename": list(found), "file_month": list(found.values())}))
        rows = con.sql(f"""
            select * exclude (filename, file_month) from (
                select r.*, f.file_month from read_parquet({list(found)!r}, union_by_name = true, filename = true) r
                join file_months f using (filename))
            qualify dense_rank() over (partition by {group} order by file_month desc) = 1
            order by {key_order(table)}""").to_arrow_table()
    finally:
        con.close()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".data.parquet.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(rows, str(tmp), **PARQUET_OPTIONS)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def write_open_data(published: Path, month: str, source_dir: Path) -> Path:
    """The month's open-data CSV of indicators_monthly (from the version dir `source_dir`), every
    suppressed cell and the cells that would give it away nulled (suppression.py)."""
    dst = open_data_path(published, month)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    keys = ", ".join(PUBLISHED_TABLES["indicators_monthly"])
    con = duckdb.connect()
    try:
        con.execute(f"""
            copy (select * replace (
                      case when is_suppressed then null else numerator end as numerator,
                      case when is_suppressed then null else denominator end as denominator,
                      case when is_suppressed then null else value end as value)
                  from {register_open_cells(con, source_dir / "indicators_monthly.parquet")} order by {keys})
            to '{tmp}' (format csv, header true, delimiter ',')""")
        os.replace(tmp, dst)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return dst


def stage_current_files(published: Path, stage: Path, month: str, catalog: dict) -> list[Path]:
    """The month's current Parquet and open data for the catalog's latest version, written into the
    commit's staging folder `stage` at their paths relative to `published` (the swap moves them)."""
    entry = catalog["months"].get(month)
    if entry is None:   # no committed version (a data dir from before the commit journal): none current
        for table in MONTHLY_TABLES:
            shutil.rmtree(current_path(published, table, month).parent, ignore_errors=True)
        open_data_path(published, month).unlink(missing_ok=True)
        return []
    source = version_dir(published, month, int(entry["latest_version"]))
    written = []
    for table in MONTHLY_TABLES:
        dst = current_path(stage, table, month)
        replace_with_link(source / f"{table}.parquet", dst)
        written.append(dst)
    written.append(write_open_data(stage, month, source))
    return written
