"""The files BI and open-data readers take beside the versions, rebuilt from the catalog's latest
versions when a commit changes them (written into the commit's staging folder, swapped in by
commit.py): each month's current Parquet, the open-data CSV with suppressed cells nulled, and
the registry Parquet (every unit's rows of any published month).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from orchestration.defs.publication.layout import current_path, latest_dirs, open_data_path, version_dir
from orchestration.defs.publication.suppression import register_open_cells
from orchestration.defs.publication.tables import NON_MONTHLY, PARQUET_OPTIONS, PUBLISHED_TABLES

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


def write_registry(published: Path, catalog: dict, dst: Path) -> Path | None:
    """vardcentraler/data.parquet at dst: every registry row (unit and validity) of any published
    month, as in its latest month."""
    dirs = latest_dirs(published, catalog)
    if not dirs:
        return None
    files = [str(d / "vardcentraler.parquet") for d in dirs.values()]
    months = {str(d / "vardcentraler.parquet"): m for m, d in dirs.items()}
    con = duckdb.connect()
    try:
        con.register("file_months", pd.DataFrame(
            {"filename": list(months), "file_month": list(months.values())}))
        table = con.sql(f"""
            select * exclude (filename, file_month) from (
                select r.*, f.file_month from read_parquet({files!r}, union_by_name = true, filename = true) r
                join file_months f using (filename))
            qualify row_number() over (partition by hsa_id, valid_from order by file_month desc) = 1
            order by hsa_id, valid_from nulls first""").to_arrow_table()
    finally:
        con.close()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".data.parquet.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, str(tmp), **PARQUET_OPTIONS)
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
