"""Where a publication's files live under `<data_dir>/published/`, and the catalog naming them.

    versions/<YYYY-MM>/v<NNNN>/<table>.parquet     immutable, one per published table
    versions/<YYYY-MM>/v<NNNN>/manifest.json       version, inputs, row counts, checks, hashes
    versions/<YYYY-MM>/v<NNNN>/diff_from_v<N-1>.md from the second version on (version_diff.py)
    <table>/month=<YYYY-MM>/data.parquet           current version for BI (monthly tables, current_files.py)
    <table>/period=<YYYY-Qn or YYYY>/data.parquet  quarters and years (periods.py), from the published months
    <table>/data.parquet                           the tables that are not monthly (current_files.py): every
                                                   row of any published month, as in its latest month
    open_data/indicators_monthly_<YYYY-MM>.csv     suppressed cells nulled (current_files.py)
    published.duckdb                               latest version of every month (+ published_versions), tables
                                                   only, commented, readable by DuckDB 1.x (published_db.py)
    dictionary.csv                                 every table and column of published.duckdb with its description
    catalog.json                                   months and their latest versions
    payouts/                                       payouts and adjustments (SPEC §6.1, payouts.py): per payout
                                                   month its rows and payment file, the adjustments, the ledger
    .commit/                                       a commit being swapped in (commit.py; journal.json: the commit point)
    .publish.lock                                  held by the one publication at a time
"""
from __future__ import annotations

import json
from pathlib import Path

CATALOG = "catalog.json"
PUBLISHED_DB = "published.duckdb"
DICTIONARY = "dictionary.csv"
LOCK = ".publish.lock"


def version_dir(published: Path, month: str, version: int) -> Path:
    return published / "versions" / month / f"v{version:04d}"


def current_path(published: Path, table: str, month: str) -> Path:
    """The current Parquet of a monthly table's month."""
    return published / table / f"month={month}" / "data.parquet"


def whole_table_path(published: Path, table: str) -> Path:
    """The current Parquet of a table that is not monthly."""
    return published / table / "data.parquet"


def open_data_path(published: Path, month: str) -> Path:
    return published / "open_data" / f"indicators_monthly_{month}.csv"


def read_catalog(published: Path) -> dict:
    path = published / CATALOG
    if not path.exists():
        return {"months": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def latest_dirs(published: Path, catalog: dict) -> dict[str, Path]:
    """month -> the version dir of its latest version in `catalog`, in month order."""
    return {m: version_dir(published, m, int(e["latest_version"])) for m, e in sorted(catalog["months"].items())}


def changed_months(catalog: dict, previous: dict) -> set[str]:
    """The months whose entry differs between two catalogs (new, re-published or gone)."""
    return {m for m in set(catalog["months"]) | set(previous["months"])
            if catalog["months"].get(m) != previous["months"].get(m)}
