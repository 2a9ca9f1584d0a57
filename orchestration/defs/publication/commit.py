"""The publication's transaction: a commit that makes new versions visible in every published
form at once, and the recovery of one a crash cut off (docs/decisions.md, "One commit point for
both published forms").

The protocol:
  1. every new version dir is in place, listed by no catalog (invisible);
  2. everything that names the new state is written into published/.commit/ at its final
     relative path: the current Parquet and open data of the changed months, the tables that
     are not monthly (registry, indicator catalogue, targets), the payout ledger (refused here if it does not reconcile), published.duckdb, catalog.json;
  3. published/.commit/journal.json (atomic) lists them in swap order: THE COMMIT POINT;
  4. each is os.replace'd into place: Parquet, then published.duckdb, then catalog.json;
  5. the journal and the folder go.
A crash before 3 leaves every reader on the old state (recovery removes the folder and the
new version dirs); after 3, the next publication or `vardval status` finishes 4-5 first.
The swaps are back to back, so the forms disagree for microseconds, never until a next run.
Publications are serialised by a lock file (`publication_lock`).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from core.published_tables import NON_MONTHLY
from orchestration.defs.publication import payouts as payout_ledger
from orchestration.defs.publication.current_files import stage_current_files, write_whole_table
from orchestration.defs.publication.gate import PublicationRefused, write_json_atomic
from orchestration.defs.publication.layout import (
    CATALOG,
    DICTIONARY,
    LOCK,
    PUBLISHED_DB,
    version_dir,
    whole_table_path,
)
from orchestration.defs.publication.periods import (
    compute_period_tables,
    min_cell_of,
    stage_period_files,
    write_period_tables,
)
from orchestration.defs.publication.published_db import build_published_db, write_dictionary

COMMIT_DIR = ".commit"
JOURNAL = "journal.json"
# Test-only fault injection: `VARDVAL_FAULT_AT=<stage>` makes the process kill its whole process
# group (SIGKILL, as `kill -9` would) when it reaches that stage of a publication, so the tests
# can crash it exactly between two swaps (tests/test_crash_safety.py). Stages: `staged` (a new
# version dir in place, before the commit), `commit:journal` (journal written, nothing swapped),
# `commit:parquet` (Parquet swapped), `commit:duckdb` (published.duckdb swapped),
# `commit:catalog` (catalog swapped, journal not yet removed).
FAULT_ENV = "VARDVAL_FAULT_AT"


def fault_point(stage: str) -> None:
    if os.environ.get(FAULT_ENV) == stage:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def commit(published: Path, catalog: dict, committed: dict, months: set[str], repair: set[str]) -> list[Path]:
    """Make `catalog` the published state (the protocol of the module docstring); `committed` is
    the catalog in force, `months` the months whose version changed, `repair` months whose
    current files must be re-linked. With neither, only published.duckdb is rebuilt (it was
    stale). Returns the files swapped in."""
    stage = published / COMMIT_DIR
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        staged: list[Path] = []
        for month in sorted(months | repair):
            staged += stage_current_files(published, stage, month, catalog)
        ledger, ledger_files = _stage_payouts(published, stage, catalog, committed)
        # the quarters and years, with the payouts this commit makes beside them
        periods = compute_period_tables(published, catalog, min_cell_of(catalog), payouts=ledger.payouts)
        staged += stage_period_files(stage, catalog, months | repair, periods)
        whole_tables = {table: whole_table_path(published, table) for table in NON_MONTHLY}
        if months or repair:
            for table in NON_MONTHLY:
                whole_tables[table] = write_whole_table(published, catalog, table, whole_table_path(stage, table))
                staged += [whole_tables[table]] if whole_tables[table] else []
        staged += ledger_files
        db = build_published_db(published, catalog, stage / PUBLISHED_DB, whole_tables,
                                 previous=None if repair else committed, ledger=ledger)
        write_period_tables(db, periods)
        staged += [db, write_dictionary(db, stage / DICTIONARY)]
        if months or repair:
            write_json_atomic(stage / CATALOG, catalog)
            staged.append(stage / CATALOG)
        order = [str(p.relative_to(stage)) for p in staged]
        write_json_atomic(stage / JOURNAL, {"swap": order})
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    fault_point("commit:journal")
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
        if faults and rel == PUBLISHED_DB:
            fault_point("commit:parquet")
        if faults and rel == CATALOG:
            fault_point("commit:duckdb")
        src = stage / rel
        if src.exists():
            dst = published / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    if faults:
        fault_point("commit:catalog")
    (stage / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


def finish_interrupted_commit(published: Path) -> bool:
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
        handle = open(published / LOCK, "w")
    except OSError:   # a reader without write access: the next publication finishes it
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            return finish_interrupted_commit(published)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover(published: Path, catalog: dict) -> set[str]:
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


@contextlib.contextmanager
def publication_lock(published: Path):
    """Held by one publication at a time (its commit and recovery included)."""
    published.mkdir(parents=True, exist_ok=True)
    with open(published / LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
