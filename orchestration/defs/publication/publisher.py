"""Versioned publication of a month (SPEC §7, §10): a new version of its published tables when
its content changed and its checks passed, made visible in one commit with the other months of
the run. Where the files go: layout.py.

Order of a publication: hash the month's content in the warehouse → gate on that fingerprint
→ unchanged content ends here (nothing written) → export into a temp dir beside the versions,
from the same read-only connection (so what was hashed is what is written), with its manifest
and its diff against the previous version (version_diff.py) → renamed to the new version, which
no catalog lists yet → (the other months of a range the same way) → one commit for all of them
(commit.py): the current Parquet, open data, registry, published.duckdb and catalog.json are
staged, a journal naming them is the commit point, then they are swapped in, catalog last. A
crash before the journal leaves the old state everywhere; after it, the next publication or
`vardval status` finishes the swap.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.months import check_month
from core.published_tables import PUBLISHED_TABLES
from core.warehouse import connect, table_exists
from orchestration.defs.publication.commit import (
    COMMIT_DIR,
    JOURNAL,
    commit,
    fault_point,
    finish_interrupted_commit,
    publication_lock,
    recover,
)
from orchestration.defs.publication.gate import PublicationRefused, assert_may_publish, write_json_atomic
from orchestration.defs.publication.layout import changed_months, read_catalog, version_dir
from orchestration.defs.publication.periods import suppression_limit
from orchestration.defs.publication.published_db import is_stale
from orchestration.defs.publication.tables import combine_hashes, export_month_table, month_digest
from orchestration.defs.publication.version_diff import build_diff


@dataclass
class PublishResult:
    month: str
    version: int
    is_new_version: bool
    diff_markdown: str | None
    files: list[Path] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _outcome_dict(o) -> dict:
    return o.to_dict() if hasattr(o, "to_dict") else dict(o)


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
        finish_interrupted_commit(published)
        self.committed = read_catalog(published)
        self.catalog = json.loads(json.dumps(self.committed))
        self.repair = recover(published, self.committed)
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
        fault_point("staged")
        return PublishResult(month, version, True, diff, sorted(p for p in target.iterdir() if p.is_file()))

    def commit(self) -> list[Path]:
        """Make the staged months visible in every published form at once; on an error before
        the commit point, remove them and keep the state in force. Returns the files swapped in."""
        months = changed_months(self.catalog, self.committed)
        if not self.catalog["months"] or (not months and not self.repair
                                          and not is_stale(self.published, self.committed)):
            return []
        try:
            files = commit(self.published, self.catalog, self.committed, months, self.repair)
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
    with publication_lock(published):
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
