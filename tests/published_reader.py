"""A BI reader of `published/` for the concurrency tests: `python -m tests.published_reader PUBLISHED STOP [--hold]`.

Until the file STOP exists it loops: opens `published.duckdb` read-only (with `--hold`: once,
held open for its whole life, as a BI tool would), and for every month in `published_versions` hashes each
monthly table's rows for the month exactly as the publisher does (`export_month_table`) and
compares with the manifest of the version that `published_versions` names. A mismatch is a
*mix* (a month's tables from different versions, or a half-built table). It does the same for
Parquet: the version directory named by catalog.json (immutable) must match its manifest, and
every current file `<table>/month=<M>/data.parquet` must be, byte for byte, a file of some
published version of its month (never half-written). Current files of one month coming from
different versions are counted in `current_parquet_mixes` (the current tree is replaced file
by file; see docs/guarantees.md).

Prints one JSON line at the end; exit status 1 if any read errored or saw a mix. (Two
processes, because DuckDB shares one database instance between the connections of a process:
while one is held open, new ones in the same process see the same, old file.)
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
import traceback
from pathlib import Path

import duckdb

from core.published_tables import NON_MONTHLY, PUBLISHED_TABLES
from orchestration.defs.publication.tables import export_month_table

MONTHLY = [t for t in PUBLISHED_TABLES if t not in NON_MONTHLY]


def _manifest(published: Path, month: str, version: int) -> dict:
    return json.loads((published / "versions" / month / f"v{version:04d}" / "manifest.json").read_text())


def check_db(con, published: Path) -> dict[str, int]:
    """{month: version} after checking every monthly table of every month against its manifest."""
    versions = dict(con.execute("select month, version from published_versions").fetchall())
    for month, version in versions.items():
        manifest = _manifest(published, month, version)
        for table in MONTHLY:
            exported = export_month_table(con, table, month, schema="main")
            expected = manifest["tables"][table]
            if (exported.rows, exported.content_hash) != (expected["rows"], expected["content_hash"]):
                raise AssertionError(f"published.duckdb: {table} of {month} is not v{version}'s content")
    return versions


def check_parquet(published: Path) -> tuple[dict[str, int], int]:
    catalog = json.loads((published / "catalog.json").read_text())
    mixes = 0
    seen = {}
    for month, entry in catalog["months"].items():
        version = int(entry["latest_version"])
        manifest = _manifest(published, month, version)
        folder = published / "versions" / month / f"v{version:04d}"
        for table in MONTHLY:
            digest = hashlib.sha256((folder / f"{table}.parquet").read_bytes()).hexdigest()
            if digest != manifest["tables"][table]["file_sha256"]:
                raise AssertionError(f"versions/{month}/v{version:04d}/{table}.parquet differs from its manifest")
        # the current tree: each file whole, from some version of the month
        files_of = {}
        for version_dir in sorted((published / "versions" / month).glob("v[0-9]*")):
            try:
                found = json.loads((version_dir / "manifest.json").read_text())
            except FileNotFoundError:
                continue                                          # a version being written
            for table, info in found["tables"].items():
                files_of[(table, info["file_sha256"])] = found["version"]
        origins = set()
        for table in MONTHLY:
            current = published / table / f"month={month}" / "data.parquet"
            digest = hashlib.sha256(current.read_bytes()).hexdigest()
            if (table, digest) not in files_of:
                raise AssertionError(f"{current} is not a file of any published version of {month}")
            origins.add(files_of[(table, digest)])
        mixes += len(origins) > 1
        seen[month] = version
    return seen, mixes


def main(published: Path, stop: Path, hold: bool) -> int:
    db = published / "published.duckdb"
    report = {"loops": 0, "versions_seen": {}, "errors": [], "current_parquet_mixes": 0}
    held = duckdb.connect(str(db), read_only=True) if hold else None
    try:
        first = check_db(held, published) if hold else None
        (stop.parent / f"reader_ready{'_hold' if hold else ''}").touch()
        while True:
            last = stop.exists()
            try:
                if hold:
                    versions = check_db(held, published)
                    if versions != first:
                        raise AssertionError(f"the held connection's versions changed under it: {first} -> {versions}")
                else:
                    with duckdb.connect(str(db), read_only=True) as con:
                        versions = check_db(con, published)
                    _, mixes = check_parquet(published)
                    report["current_parquet_mixes"] += mixes
                for month, version in versions.items():
                    report["versions_seen"].setdefault(month, [])
                    if version not in report["versions_seen"][month]:
                        report["versions_seen"][month].append(version)
            except Exception:  # noqa: BLE001 - every failure is reported
                report["errors"].append(traceback.format_exc()[-2000:])
            report["loops"] += 1
            if last or len(report["errors"]) > 5:
                break
            time.sleep(0.75)
    finally:
        if held is not None:
            held.close()
    print(json.dumps(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), "--hold" in sys.argv[3:]))
