"""published.duckdb as BI readers get it (SPEC §7): a copy of `published/` elsewhere reads with
the current DuckDB and with DuckDB 1.x, every table and column has its description, the
dictionary says the same, and the reader columns have their types."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publication.published_db import load_descriptions

OLD_DUCKDB = "1.1.3"
OLD_DUCKDB_DIR = Path(os.environ.get("VARDVAL_OLD_DUCKDB_DIR",
                                     Path.home() / ".cache" / "vardval-tests" / f"duckdb-{OLD_DUCKDB}"))

# Reads every table of the file given as argv[1], printing {table: [rows, columns with a comment]}.
READ_ALL = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {}
for (t,) in con.execute("select table_name from duckdb_tables() order by 1").fetchall():
    rows = con.execute(f'select count(*) from (select * from "{t}")').fetchone()[0]
    commented = con.execute("select count(*) from duckdb_columns() where table_name = ? and comment is not null "
                            "and comment <> ''", [t]).fetchone()[0]
    out[t] = [rows, commented]
print(json.dumps({"version": duckdb.__version__, "tables": out}))
"""


@pytest.fixture(scope="module")
def copied(published_region, tmp_path_factory) -> Path:
    """published/ copied to another path, the original moved away so nothing can read it."""
    dst = tmp_path_factory.mktemp("share") / "published"
    shutil.copytree(published_region.published, dst)
    return dst


def _read_all(python: list[str], db: Path, cwd: Path, env: dict | None = None) -> dict:
    result = subprocess.run([*python, "-c", READ_ALL, str(db)], capture_output=True, text=True, cwd=cwd,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_copy_reads_every_table_without_the_original(published_region, copied, tmp_path):
    # the original's files must not be what the copy reads: hide them for the test
    hidden = published_region.published.with_name("published.hidden")
    published_region.published.rename(hidden)
    try:
        got = _read_all([sys.executable], copied / "published.duckdb", cwd=tmp_path)
    finally:
        hidden.rename(published_region.published)
    tables = got["tables"]
    assert {"indicators_monthly", "listing_monthly", "contacts_monthly", "reimbursement_monthly",
            "reimbursement_person_monthly", "data_quality_monthly", "vardcentraler", "indicator_catalog",
            "targets", "published_versions"} <= set(tables)
    # every table reads; all but the adjustments (the region has no correction) have rows
    assert all(rows > 0 for name, (rows, _) in tables.items() if name != "reimbursement_adjustments"), tables
    with duckdb.connect(str(copied / "published.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0


@pytest.mark.slow
def test_duckdb_1x_reads_a_copy(copied, tmp_path):
    """DuckDB 1.1.3 (what BI drivers ship), installed with pip into a cached directory."""
    if not (OLD_DUCKDB_DIR / "duckdb").exists():
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                 str(OLD_DUCKDB_DIR), f"duckdb=={OLD_DUCKDB}"], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot install duckdb {OLD_DUCKDB}: {result.stderr[-300:]}")
    env = {**os.environ, "PYTHONPATH": str(OLD_DUCKDB_DIR)}
    old = _read_all([sys.executable], copied / "published.duckdb", cwd=tmp_path, env=env)
    assert old["version"] == OLD_DUCKDB
    current = _read_all([sys.executable], copied / "published.duckdb", cwd=tmp_path)
    assert old["tables"] == current["tables"]
    assert all(commented > 0 for _, commented in old["tables"].values())


def test_every_table_and_column_is_described_and_in_the_dictionary(copied):
    descriptions = load_descriptions()
    with duckdb.connect(str(copied / "published.duckdb"), read_only=True) as con:
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where not internal").fetchall())
        columns = con.execute("select table_name, column_name, data_type, comment from duckdb_columns() "
                              "where database_name = current_database() "
                              "order by table_name, column_index").fetchall()
    assert all(tables.values()), [t for t, c in tables.items() if not c]
    assert not [(t, c) for t, c, _, comment in columns if not comment]
    assert tables["listing_monthly"] == descriptions["listing_monthly"][0]
    with (copied / "dictionary.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["table"], r["column"], r["description"]) for r in rows} == \
        {(t, "", c) for t, c in tables.items()} | {(t, c, comment) for t, c, _, comment in columns}


def test_reader_columns_have_their_types(copied):
    with duckdb.connect(str(copied / "published.duckdb"), read_only=True) as con:
        types = {(t, c): d for t, c, d in con.execute(
            "select table_name, column_name, data_type from duckdb_columns() where not internal").fetchall()}
        monthly = {t for (t, c) in types if c == "month" and t != "published_versions"}
        assert monthly >= {"indicators_monthly", "listing_monthly", "reimbursement_person_monthly"}
        assert all(types[(t, "month_start")] == "DATE" for t in monthly)
        assert types[("published_versions", "published_at")] == "TIMESTAMP WITH TIME ZONE"
        assert types[("listing_monthly", "age_band_order")] == "INTEGER"
        assert con.execute("select count(*) from listing_monthly "
                           "where month_start <> cast(month || '-01' as date)").fetchone()[0] == 0
        bands = [b for (b, _) in con.execute("select distinct age_band, age_band_order from listing_monthly "
                                           "order by age_band_order").fetchall()]
        assert bands == ["0-6", "7-19", "20-39", "40-64", "65-74", "75-84", "85+"]
        assert con.execute("select count(*) from reimbursement_person_monthly where capitation_band_order "
                           "is null").fetchone()[0] == 0
