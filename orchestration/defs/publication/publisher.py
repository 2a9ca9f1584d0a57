"""Versioned publication of a month (SPEC §7, §10).

Layout under `<data_dir>/published/`:

    versions/<YYYY-MM>/v<NNNN>/<table>.parquet     immutable, one per published table
    versions/<YYYY-MM>/v<NNNN>/manifest.json       version, inputs, row counts, checks, hashes
    versions/<YYYY-MM>/v<NNNN>/diff_from_v<N-1>.md from the second version on
    <table>/month=<YYYY-MM>/data.parquet           current version for BI (monthly tables)
    <table>/period=<YYYY-Qn or YYYY>/data.parquet  quarters and years (periods.py), from the published months
    vardcentraler/data.parquet                     the registry: every unit's rows (with validity) of any published month
    open_data/indicators_monthly_<YYYY-MM>.csv     suppressed cells nulled
    published.duckdb                               latest version of every month (+ published_versions), tables
                                                   only, commented, readable by DuckDB 1.x (published_db.py)
    dictionary.csv                                 every table and column of published.duckdb with its description
    catalog.json                                   months and their latest versions
    payouts/                                       payouts and adjustments (SPEC §6.1, payouts.py): per payout
                                                   month its rows and payment file, the adjustments, the ledger
    .commit/                                       a commit being swapped in (journal.json: the commit point)

Order of a publication: hash the month's content in the warehouse → gate on that fingerprint
→ unchanged content ends here (nothing written) → export into a temp dir beside the versions,
from the same read-only connection (so what was hashed is what is written) → renamed to the
new version, which no catalog lists yet → (the other months of a range the same way) → one
commit for all of them: the current Parquet, open data, registry, published.duckdb and
catalog.json are written into `.commit/`, a journal naming them is the commit point, then they
are swapped in, catalog last (see "commit" below). A crash before the journal leaves the old
state everywhere; after it, the next publication or `vardval status` finishes the swap.
Publications are serialised by a lock file.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from orchestration.defs.publication.published_db import (
    STORAGE_VERSION, connect_new, create_published_versions, describe_tables, published_select, storage_version,
    write_dictionary,
)
from orchestration.defs.publication import payouts as payout_ledger
from orchestration.defs.publication.gate import PublicationRefused, assert_may_publish, write_json_atomic
from orchestration.defs.publication.periods import (compute_period_tables, min_cell_of, stage_period_files,
                                                    suppression_limit, write_period_tables)
from orchestration.defs.publication.suppression import register_open_cells
from core.months import check_month
from core.published_tables import NON_MONTHLY, PUBLISHED_TABLES
from core.warehouse import table_exists
from orchestration.defs.publication.tables import PARQUET_OPTIONS, combine_hashes, export_month_table, month_digest
from core.warehouse import connect
from core.vocabulary import COMPONENTS as REIMBURSEMENT_COMPONENTS

MONTHLY_TABLES = [t for t in PUBLISHED_TABLES if t not in NON_MONTHLY]
# Every monthly table is stored in published.duckdb (a view over Parquet would name its files
# by absolute path: see published_db.py); a publication patches only its changed months.
STORED_TABLES = MONTHLY_TABLES
DIFF_ROW_LIMIT = 200
AMOUNT_TOLERANCE = 0.005


@dataclass
class PublishResult:
    month: str
    version: int
    is_new_version: bool
    diff_markdown: str | None
    files: list[Path] = field(default_factory=list)


def version_dir(published: Path, month: str, version: int) -> Path:
    return published / "versions" / month / f"v{version:04d}"


def read_catalog(published: Path) -> dict:
    path = published / "catalog.json"
    if not path.exists():
        return {"months": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _lock(published: Path):
    published.mkdir(parents=True, exist_ok=True)
    with open(published / ".publish.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _outcome_dict(o) -> dict:
    return o.to_dict() if hasattr(o, "to_dict") else dict(o)


def _replace_with_link(src: Path, dst: Path) -> None:
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


def _current_path(published: Path, table: str, month: str) -> Path:
    return published / table / f"month={month}" / "data.parquet"


def _open_data_path(published: Path, month: str) -> Path:
    return published / "open_data" / f"indicators_monthly_{month}.csv"


def _latest_dirs(published: Path, catalog: dict) -> dict[str, Path]:
    return {m: version_dir(published, m, int(e["latest_version"])) for m, e in sorted(catalog["months"].items())}


# ----------------------------------------------------------------------------------------- outputs

def _write_registry(published: Path, catalog: dict, dst: Path) -> Path | None:
    """vardcentraler/data.parquet at dst: every registry row (unit and validity) of any published
    month, as in its latest month."""
    dirs = _latest_dirs(published, catalog)
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


def _write_open_data(published: Path, month: str, source_dir: Path) -> Path:
    dst = _open_data_path(published, month)
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


def _versions_in_db(path: Path) -> list[tuple] | None:
    """(month, version, content_hash) of every month in the file; None unless it is in the
    storage version and layout this code writes (then it is rebuilt, not patched)."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if not (storage_version(con) or "").startswith(STORAGE_VERSION):
                return None
            return sorted(con.execute("select month, version, content_hash from published_versions").fetchall())
    except duckdb.Error:
        return None


def _catalog_versions(catalog: dict) -> list[tuple]:
    return sorted((m, int(e["latest_version"]), e["content_hash"]) for m, e in catalog["months"].items())


def _catalog_version_rows(catalog: dict) -> list[tuple]:
    return sorted((m, int(e["latest_version"]), e["content_hash"], e["published_at"])
                  for m, e in catalog["months"].items())


def _stored_as_tables(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {name for (name,) in con.execute("select table_name from information_schema.tables "
                                                "where table_type = 'BASE TABLE'").fetchall()}


def _published_db_stale(published: Path, catalog: dict) -> bool:
    """Whether published.duckdb is missing, holds other versions than the catalog's, is in
    another storage version, or (written by older code) lacks a stored table or the dictionary."""
    path = published / "published.duckdb"
    if _versions_in_db(path) != _catalog_versions(catalog):
        return True
    if catalog["months"] and not set(STORED_TABLES) <= _stored_as_tables(path):
        return True
    return not (published / "dictionary.csv").exists()


def _changed_months(catalog: dict, previous: dict) -> set[str]:
    return {m for m in set(catalog["months"]) | set(previous["months"])
            if catalog["months"].get(m) != previous["months"].get(m)}


def _patch_published_db(published: Path, catalog: dict, previous: dict, out: Path,
                        registry: Path | None, ledger: payout_ledger.Ledger | None = None) -> Path | None:
    """Copy-and-patch: the current published.duckdb, copied to `out`, with only the changed months replaced.

    The cost of a publication then no longer grows with the number of months published (a full
    rebuild reads every month's Parquet). Used only when the current file holds exactly the
    previous catalog, the new catalog changes or adds at most a quarter of its months (beyond
    that a rebuild is as quick: twelve of twelve months patched took 7.3 s, rebuilt 3.9 s), and
    the new Parquet has the tables' exact columns; otherwise (or on any error) None, and the
    caller rebuilds. Rows of a re-published earlier month are appended after the others: read
    with ORDER BY.
    """
    dst = published / "published.duckdb"
    changed = _changed_months(catalog, previous)
    if not changed or not changed <= set(catalog["months"]) or not dst.exists():
        return None
    if len(changed) > 1 and 4 * len(changed) > len(catalog["months"]):
        return None
    if _versions_in_db(dst) != _catalog_versions(previous):
        return None
    if not set(STORED_TABLES) <= _stored_as_tables(dst):
        return None  # a table is missing (or is a view, as older code wrote): rebuild
    tmp = out
    try:
        shutil.copyfile(dst, tmp)
        con = duckdb.connect(str(tmp))
        try:
            con.execute("begin")
            for month in sorted(changed):
                source = version_dir(published, month, int(catalog["months"][month]["latest_version"]))
                for table in STORED_TABLES:
                    file = source / f"{table}.parquet"
                    have = con.execute(f'select column_name, column_type from (describe "{table}")').fetchall() \
                        if table_exists(con, "main", table) else None
                    select = published_select(con, f"read_parquet('{file}')")
                    new = con.execute(f"select column_name, column_type from (describe {select})").fetchall()
                    if have is None or [tuple(r) for r in have] != [tuple(r) for r in new]:
                        return None  # a new table or changed columns: rebuild
                    keys = ", ".join(f'"{k}"' for k in PUBLISHED_TABLES[table])
                    con.execute(f'delete from "{table}" where month = ?', [month])
                    con.execute(f'insert into "{table}" {select} order by {keys}')
            con.execute("drop table if exists vardcentraler")
            if registry is not None and registry.exists():
                con.execute(f"create table vardcentraler as select * from read_parquet('{registry}') order by hsa_id, valid_from nulls first")
            if ledger is not None:
                payout_ledger.create_tables(con, ledger)
            create_published_versions(con, _catalog_version_rows(catalog))
            describe_tables(con)
            con.execute("commit")
            con.execute("checkpoint")
        finally:
            con.close()
        return tmp
    except duckdb.Error:
        tmp.unlink(missing_ok=True)
        return None
    finally:
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def _build_published_db(published: Path, catalog: dict, out: Path, registry: Path | None,
                        previous: dict | None = None, ledger: payout_ledger.Ledger | None = None) -> Path:
    """published.duckdb from the latest version of every month, built at `out` (the commit swaps
    it in); `registry` is the vardcentraler Parquet it takes its registry table from.

    With `previous` (the catalog the current file was built for), patch a copy of the current
    file instead when it is safe (see `_patch_published_db`)."""
    if previous is not None:
        patched = _patch_published_db(published, catalog, previous, out, registry, ledger)
        if patched is not None:
            return patched
    tmp = out
    dirs = _latest_dirs(published, catalog)
    try:
        con = connect_new(tmp)
        try:
            for table in STORED_TABLES:
                keys = ", ".join(f'"{k}"' for k in PUBLISHED_TABLES[table])
                files = [str(d / f"{table}.parquet") for d in dirs.values()]
                if files:
                    select = published_select(con, f"read_parquet({files!r}, union_by_name = true)")
                    con.execute(f'create table "{table}" as {select} order by {keys}')
            if ledger is not None:
                payout_ledger.create_tables(con, ledger)
            if registry is not None and registry.exists():
                con.execute(f"create table vardcentraler as select * from read_parquet('{registry}') order by hsa_id, valid_from nulls first")
            create_published_versions(con, _catalog_version_rows(catalog))
            describe_tables(con)
            con.execute("checkpoint")
        finally:
            con.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return tmp


def _stage_current_files(published: Path, stage: Path, month: str, catalog: dict) -> list[Path]:
    """The month's current Parquet and open data for the catalog's latest version, written into the
    commit's staging folder `stage` at their paths relative to `published` (the swap moves them)."""
    entry = catalog["months"].get(month)
    if entry is None:   # no committed version (a data dir from before the commit journal): none current
        for table in MONTHLY_TABLES:
            shutil.rmtree(_current_path(published, table, month).parent, ignore_errors=True)
        _open_data_path(published, month).unlink(missing_ok=True)
        return []
    source = version_dir(published, month, int(entry["latest_version"]))
    written = []
    for table in MONTHLY_TABLES:
        dst = _current_path(stage, table, month)
        _replace_with_link(source / f"{table}.parquet", dst)
        written.append(dst)
    written.append(_write_open_data(stage, month, source))
    return written


# ------------------------------------------------------------------------------------------ commit
#
# The commit protocol (docs/decisions.md, "One commit point for both published forms"):
#   1. every new version dir is in place, listed by no catalog (invisible);
#   2. everything that names the new state is written into published/.commit/ at its final
#      relative path: the current Parquet and open data of the changed months, the registry,
#      the payout ledger (refused here if it does not reconcile), published.duckdb, catalog.json;
#   3. published/.commit/journal.json (atomic) lists them in swap order: THE COMMIT POINT;
#   4. each is os.replace'd into place: Parquet, then published.duckdb, then catalog.json;
#   5. the journal and the folder go.
# A crash before 3 leaves every reader on the old state (recovery removes the folder and the
# new version dirs); after 3, the next publication or `vardval status` finishes 4-5 first.
# The swaps are back to back, so the forms disagree for microseconds, never until a next run.

COMMIT_DIR = ".commit"
JOURNAL = "journal.json"
# Test-only fault injection: `VARDVAL_FAULT_AT=<stage>` makes the process kill its whole process
# group (SIGKILL, as `kill -9` would) when it reaches that stage of a publication, so the tests
# can crash it exactly between two swaps (tests/test_crash_safety.py). Stages: `staged` (a new
# version dir in place, before the commit), `commit:journal` (journal written, nothing swapped),
# `commit:parquet` (Parquet swapped), `commit:duckdb` (published.duckdb swapped),
# `commit:catalog` (catalog swapped, journal not yet removed).
FAULT_ENV = "VARDVAL_FAULT_AT"


def _fault_point(stage: str) -> None:
    if os.environ.get(FAULT_ENV) == stage:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _commit(published: Path, catalog: dict, committed: dict, months: set[str], repair: set[str]) -> list[Path]:
    """Make `catalog` the published state (protocol above); `committed` is the catalog in force,
    `months` the months whose version changed, `repair` months whose current files must be
    re-linked. With neither, only published.duckdb is rebuilt (it was stale). Returns the files
    swapped in."""
    stage = published / COMMIT_DIR
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        staged: list[Path] = []
        for month in sorted(months | repair):
            staged += _stage_current_files(published, stage, month, catalog)
        ledger, ledger_files = _stage_payouts(published, stage, catalog, committed)
        # the quarters and years, with the payouts this commit makes beside them
        periods = compute_period_tables(published, catalog, min_cell_of(catalog), payouts=ledger.payouts)
        staged += stage_period_files(stage, catalog, months | repair, periods)
        registry = published / "vardcentraler" / "data.parquet"
        if months or repair:
            registry = _write_registry(published, catalog, stage / "vardcentraler" / "data.parquet")
            staged += [registry] if registry else []
        staged += ledger_files
        db = _build_published_db(published, catalog, stage / "published.duckdb", registry,
                                 previous=None if repair else committed, ledger=ledger)
        write_period_tables(db, periods)
        staged += [db, write_dictionary(db, stage / "dictionary.csv")]
        if months or repair:
            write_json_atomic(stage / "catalog.json", catalog)
            staged.append(stage / "catalog.json")
        order = [str(p.relative_to(stage)) for p in staged]
        write_json_atomic(stage / JOURNAL, {"swap": order})
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _fault_point("commit:journal")
    _swap(published, order, faults=True)
    return [published / rel for rel in order]


def _read_version(published: Path, month: str, version: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = version_dir(published, month, version)
    return (pq.read_table(source / "reimbursement_monthly.parquet").to_pandas(),
            pq.read_table(source / "vardcentraler.parquet").to_pandas())


def _stage_payouts(published: Path, stage: Path, catalog: dict,
                   committed: dict) -> tuple[payout_ledger.Ledger, list[Path]]:
    """The payouts and adjustments this commit makes (SPEC §6.1), staged with it: the ledger files
    into `stage`, each new payout's file checksum into its month's new version manifest. Refuses
    the commit (PublicationRefused) when the payouts and pending adjustments do not reconcile with
    the months' totals or a payment file does not add up to its rows."""
    before = payout_ledger.load_ledger(published)
    versions = {m: int(e["latest_version"]) for m, e in catalog["months"].items()}
    cache: dict[tuple[str, int], tuple] = {}

    def read(month: str, version: int):
        if (month, version) not in cache:
            cache[(month, version)] = _read_version(published, month, version)
        return cache[(month, version)]

    paid_at = catalog.get("updated_at") or datetime.now(timezone.utc).isoformat(timespec="seconds")
    ledger = payout_ledger.settle(before, versions, read, paid_at)
    failures = payout_ledger.reconcile(ledger, read)
    if failures:
        raise PublicationRefused("The publication was not committed: payouts and adjustments do not reconcile "
                                 "with the months' totals — " + "; ".join(failures[:5]))
    if ledger.paid_versions == before.paid_versions and not ledger.new_payout_months:
        return ledger, []
    names = {m: dict(zip(read(m, versions[m])[1]["hsa_id"], read(m, versions[m])[1]["name"]))
             for m in ledger.new_payout_months}
    try:
        files, entries = payout_ledger.write_ledger(ledger, stage, names)
    except payout_ledger.PayoutMismatch as error:
        raise PublicationRefused(str(error)) from error
    for month, entry in entries.items():
        committed_version = int(committed["months"].get(month, {}).get("latest_version", 0))
        if versions[month] > committed_version:   # the month's new version: not yet listed, so still writable
            manifest_path = version_dir(published, month, versions[month]) / "manifest.json"
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest["payout"] = entry
            write_json_atomic(manifest_path, manifest)
    return ledger, files


def _swap(published: Path, order: list[str], faults: bool = False) -> None:
    """Step 4-5: move each staged file into place, in order; one already moved is skipped, so a
    swap cut short by a crash is finished by calling this again with the journal's order."""
    stage = published / COMMIT_DIR
    for rel in order:
        if faults and rel == "published.duckdb":
            _fault_point("commit:parquet")
        if faults and rel == "catalog.json":
            _fault_point("commit:duckdb")
        src = stage / rel
        if src.exists():
            dst = published / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    if faults:
        _fault_point("commit:catalog")
    (stage / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


def _finish_interrupted_commit(published: Path) -> bool:
    """Under the lock: complete a commit whose journal was written (roll forward), or drop the
    staging folder of one that never reached it (roll back). True if a commit was completed."""
    stage = published / COMMIT_DIR
    journal = stage / JOURNAL
    if journal.exists():
        _swap(published, json.loads(journal.read_text(encoding="utf-8"))["swap"])
        return True
    shutil.rmtree(stage, ignore_errors=True)
    return False


def complete_interrupted_commit(data_dir: Path) -> bool:
    """For readers of the state (`vardval status`): finish a publication a crash cut off after
    its commit point, so catalog.json, published.duckdb and the Parquet agree before they are
    read. Does not wait: a publication holding the lock is itself committing."""
    published = Path(data_dir) / "published"
    if not (published / COMMIT_DIR / JOURNAL).exists():
        return False
    try:
        handle = open(published / ".publish.lock", "w")
    except OSError:   # a reader without write access: the next publication finishes it
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            return _finish_interrupted_commit(published)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover(published: Path, catalog: dict) -> set[str]:
    """Remove version dirs the catalog does not list (crashed publications); return months to repair."""
    repair = set()
    # Files a killed publication was writing aside ('.<name>.<random>.tmp', '.published.<uuid>.duckdb'):
    # stale, since publications hold the lock. They never became visible, but must not pile up.
    for stale in [*published.glob(".published.*.duckdb"), *published.glob(".published.*.duckdb.wal"),
                  *published.rglob(".*.tmp")]:
        if stale.is_file():
            stale.unlink(missing_ok=True)
    versions_root = published / "versions"
    if not versions_root.exists():
        return repair
    for month_dir in versions_root.iterdir():
        if not month_dir.is_dir():
            continue
        latest = int(catalog["months"].get(month_dir.name, {}).get("latest_version", 0))
        for child in month_dir.iterdir():
            if child.name.startswith(".tmp-"):
                shutil.rmtree(child, ignore_errors=True)
            elif child.is_dir() and child.name.startswith("v") and child.name[1:].isdigit() \
                    and int(child.name[1:]) > latest:
                shutil.rmtree(child, ignore_errors=True)
                repair.add(month_dir.name)
    return repair


# -------------------------------------------------------------------------------------------- diff

def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.2f}".replace(",", " ")
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def _delta(old, new) -> str:
    if old is None or new is None:
        return "—"
    change = new - old
    text = _fmt(float(change))
    text = f"+{text}" if change > 0 else text
    if old:
        text += f" ({change / abs(old):+.2%})"
    return text


def build_diff(old_dir: Path, new_dir: Path, month: str, old_version: int, new_version: int,
               names: dict[str, str] | None = None) -> str:
    """A readable markdown diff between two versions of a month."""
    names = names or {}
    con = duckdb.connect()
    lines = [f"# {month}: ändringar v{old_version} → v{new_version}", ""]
    try:
        def rel(directory: Path, table: str) -> str:
            return f"read_parquet('{directory / f'{table}.parquet'}')"

        lines += ["## Rader per tabell", "", "| tabell | rader v%d | rader v%d | ändrade rader |" % (old_version, new_version),
                  "|---|---:|---:|---:|"]
        for table in PUBLISHED_TABLES:
            old_rows = con.execute(f"select count(*) from {rel(old_dir, table)}").fetchall()[0][0]
            new_rows = con.execute(f"select count(*) from {rel(new_dir, table)}").fetchall()[0][0]
            try:
                changed = con.execute(f"select count(*) from (select * from {rel(new_dir, table)} except all "
                                      f"select * from {rel(old_dir, table)})").fetchall()[0][0]
            except duckdb.Error:
                changed = "schema changed"
            lines.append(f"| {table} | {old_rows} | {new_rows} | {changed} |")
        lines.append("")

        # reimbursement per VC and figure
        figures = ["listed_count", *REIMBURSEMENT_COMPONENTS, "total"]
        o = con.sql(f"select * from {rel(old_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        n = con.sql(f"select * from {rel(new_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        changes = []
        for vc in sorted(set(o.index) | set(n.index)):
            if vc not in o.index:
                changes.append((vc, "(ny vårdcentral)", None, float(n.at[vc, "total"])))
                continue
            if vc not in n.index:
                changes.append((vc, "(vårdcentral borttagen)", float(o.at[vc, "total"]), None))
                continue
            for f in figures:
                if f not in o.columns or f not in n.columns:
                    continue
                a, b = o.at[vc, f], n.at[vc, f]
                a = None if a is None or a != a else float(a)
                b = None if b is None or b != b else float(b)
                if (a is None) != (b is None) or (a is not None and abs(a - b) >= AMOUNT_TOLERANCE):
                    changes.append((vc, f, a, b))
        lines += ["## Ersättning per vårdcentral (reimbursement_monthly)", ""]
        if changes:
            lines += ["| vårdcentral | namn | belopp | gammalt | nytt | förändring |", "|---|---|---|---:|---:|---:|"]
            for vc, f, a, b in changes:
                lines.append(f"| {vc} | {names.get(vc, '')} | {f} | {_fmt(a)} | {_fmt(b)} | {_delta(a, b)} |")
        else:
            lines.append("Inga ändringar.")
        lines.append("")

        # indicators per VC
        keys = ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]
        join = " and ".join(f"o.{k} is not distinct from n.{k}" for k in keys)
        ind = con.sql(f"""
            select coalesce(n.vardcentral_hsa_id, o.vardcentral_hsa_id) as vc,
                   coalesce(n.indicator_code, o.indicator_code) as code, coalesce(n.sex, o.sex) as sex,
                   coalesce(n.profession, o.profession) as profession,
                   o.numerator as old_num, n.numerator as new_num, o.denominator as old_den,
                   n.denominator as new_den, o.value as old_value, n.value as new_value,
                   o.month is null as added, n.month is null as removed
            from {rel(old_dir, 'indicators_monthly')} o full outer join {rel(new_dir, 'indicators_monthly')} n
              on {join}
            where o.month is null or n.month is null
               or o.numerator is distinct from n.numerator or o.denominator is distinct from n.denominator
               or (o.value is distinct from n.value and coalesce(abs(o.value - n.value), 1) > 1e-12)
            order by vc, code, sex, profession""").fetchall()
        lines += ["## Indikatorer per vårdcentral (indicators_monthly)", ""]
        if ind:
            lines += ["| vårdcentral | indikator | kön | yrke | gammalt värde (täljare/nämnare) | nytt värde "
                      "(täljare/nämnare) | förändring |", "|---|---|---|---|---:|---:|---:|"]
            for row in ind[:DIFF_ROW_LIMIT]:
                vc, code, sex, prof, on, nn, od, nd, ov, nv, added, removed = row
                old = "—" if added else f"{_fmt(ov)} ({_fmt(on)}/{_fmt(od)})"
                new = "—" if removed else f"{_fmt(nv)} ({_fmt(nn)}/{_fmt(nd)})"
                lines.append(f"| {vc} | {code} | {sex} | {prof} | {old} | {new} | {_delta(ov, nv)} |")
            if len(ind) > DIFF_ROW_LIMIT:
                lines.append(f"\n… och {len(ind) - DIFF_ROW_LIMIT} ändrade indikatorrader till.")
        else:
            lines.append("Inga ändringar.")
        lines.append("")
    finally:
        con.close()
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- publication

def _refuse_on_failed_checks(month: str, check_outcomes: list) -> None:
    failing = [d for d in map(_outcome_dict, check_outcomes) if d.get("blocking") and not d.get("passed")]
    if failing:
        reasons = "; ".join(f"{d['name']}: {d['description']}" for d in failing[:5])
        raise PublicationRefused(f"{month} was not published: {len(failing)} blocking check(s) failed — "
                                 f"{reasons}. The previously published version is kept.")


class Publication:
    """Months published together, in one commit: readers see all of them or none (use `publication()`).

    A range builds published.duckdb (every month in one file) once, not once per month, and a
    crash anywhere in the range leaves every reader on the state before it."""

    def __init__(self, published: Path):
        self.published = published
        _finish_interrupted_commit(published)
        self.committed = read_catalog(published)
        self.catalog = json.loads(json.dumps(self.committed))
        self.repair = _recover(published, self.committed)
        self.staged: list[Path] = []      # new version dirs, listed by no catalog until the commit

    def publish(self, warehouse_path: Path, month: str, *, input_checksums: dict, check_outcomes: list,
                code_version: str) -> PublishResult:
        """Stage the month's marts as a new version if the content changed and the checks passed;
        it becomes visible with the commit.

        Raises PublicationRefused (nothing written, previous version intact) when a blocking check
        failed or there is no passing check record for exactly this content."""
        check_month(month)
        _refuse_on_failed_checks(month, check_outcomes)
        published = self.published
        month_root = published / "versions" / month
        month_root.mkdir(parents=True, exist_ok=True)
        staging = month_root / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            exported = {}
            with connect(Path(warehouse_path), read_only=True) as con:
                # Hash first (cheap, in DuckDB): unchanged or unchecked content writes nothing.
                digests = {}
                for table in PUBLISHED_TABLES:
                    if not table_exists(con, "marts", table):
                        raise PublicationRefused(f"{month} was not published: marts.{table} is missing from "
                                                 "the warehouse.")
                    digests[table] = month_digest(con, table, month)
                fingerprint = combine_hashes({t: h for t, (_, h) in digests.items()})
                check_record = assert_may_publish(self.published.parent, month, fingerprint)
                min_cell = suppression_limit(con)   # the period rows' suppression (periods.py)
                latest = self.catalog["months"].get(month)
                unchanged = latest is not None and latest["content_hash"] == fingerprint
                if not unchanged:
                    for table, digest in digests.items():
                        exported[table] = export_month_table(con, table, month, staging / f"{table}.parquet",
                                                             digest=digest)
                    names = dict(con.execute("select hsa_id, name from marts.vardcentraler").fetchall())

            if unchanged:
                shutil.rmtree(staging, ignore_errors=True)
                existing = version_dir(published, month, int(latest["latest_version"]))
                return PublishResult(month, int(latest["latest_version"]), False, None,
                                     sorted(p for p in existing.iterdir() if p.is_file()))

            previous = int(latest["latest_version"]) if latest else 0
            version = previous + 1
            published_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            diff = None
            if previous:
                diff = build_diff(version_dir(published, month, previous), staging, month, previous, version, names)
                (staging / f"diff_from_v{previous:04d}.md").write_text(diff + "\n", encoding="utf-8")
            outcomes = [_outcome_dict(o) for o in check_outcomes] or check_record.get("outcomes", [])
            manifest = {
                "month": month,
                "version": version,
                "previous_version": previous or None,
                "published_at": published_at,
                "code_version": code_version,
                "content_hash": fingerprint,
                "input_checksums": dict(sorted((input_checksums or {}).items())),
                "tables": {t: {"rows": e.rows, "content_hash": e.content_hash, "file": f"{t}.parquet",
                               "file_sha256": _sha256_file(e.path)} for t, e in exported.items()},
                "checks": {
                    "checked_at": check_record.get("recorded_at"),
                    "passed": True,
                    "count": len(outcomes),
                    "warnings": [o["name"] for o in outcomes if not o.get("passed") and not o.get("blocking")],
                    "outcomes": outcomes,
                },
            }
            write_json_atomic(staging / "manifest.json", manifest)
            target = version_dir(published, month, version)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.staged.append(target)
        self.catalog["months"][month] = {"latest_version": version, "content_hash": fingerprint,
                                         "published_at": published_at,
                                         "path": str(target.relative_to(published))}
        self.catalog["months"] = dict(sorted(self.catalog["months"].items()))
        self.catalog["updated_at"] = published_at
        self.catalog["tables"] = list(PUBLISHED_TABLES)
        if min_cell is not None:
            self.catalog["min_cell"] = min_cell
        _fault_point("staged")
        return PublishResult(month, version, True, diff, sorted(p for p in target.iterdir() if p.is_file()))

    def commit(self) -> list[Path]:
        """Make the staged months visible in every published form at once; on an error before
        the commit point, remove them and keep the state in force. Returns the files swapped in."""
        months = _changed_months(self.catalog, self.committed)
        if not self.catalog["months"] or (not months and not self.repair
                                          and not _published_db_stale(self.published, self.committed)):
            return []
        try:
            files = _commit(self.published, self.catalog, self.committed, months, self.repair)
        except BaseException:
            if not (self.published / COMMIT_DIR / JOURNAL).exists():
                for target in self.staged:
                    shutil.rmtree(target, ignore_errors=True)
            raise
        self.committed, self.staged, self.repair = json.loads(json.dumps(self.catalog)), [], set()
        return files


@contextlib.contextmanager
def publication(data_dir: Path):
    """A Publication under the publication lock, committed at the end: also when the block
    raises (the months staged before the error passed their checks and are published)."""
    published = Path(data_dir) / "published"
    with _lock(published):
        batch = Publication(published)
        try:
            yield batch
        finally:
            batch.commit()


def publish_month(warehouse_path: Path, data_dir: Path, month: str, *, input_checksums: dict,
                  check_outcomes: list, code_version: str) -> PublishResult:
    """Publish one month in its own commit (see `Publication.publish`)."""
    with publication(data_dir) as batch:
        result = batch.publish(warehouse_path, month, input_checksums=input_checksums,
                               check_outcomes=check_outcomes, code_version=code_version)
    return result
