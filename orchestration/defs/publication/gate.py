"""The publication gate: a month may be published only with a passing check record for its exact content.

The checks step calls `month_fingerprint` and `record_checks`; the publish step (and
`publish_month` itself) calls `assert_may_publish` with the fingerprint of what it is about to
publish. So a run that selects only the publish step is still gated, and content that changed
after the checks ran (a dbt re-run in between) is refused until it is checked again.

Records: `<data_dir>/checks/<YYYY-MM>/<fingerprint>.json`, written atomically.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from core.months import check_month
from core.published_tables import PUBLISHED_TABLES
from core.warehouse import connect, table_exists
from orchestration.defs.publication.tables import combine_hashes, month_digests


class PublicationRefused(RuntimeError):
    """The month may not be published; the message says why and what to do."""


def month_fingerprint(warehouse_path: Path, month: str) -> str:
    """The month's content hash over every published table (tables.month_digest)."""
    return month_fingerprints(warehouse_path, [check_month(month)])[month]


def month_fingerprints(warehouse_path: Path, months: list[str]) -> dict[str, str]:
    """month_fingerprint of several months through one connection, one scan per table."""
    with connect(Path(warehouse_path), read_only=True) as con:
        digests = {t: month_digests(con, t, months) for t in PUBLISHED_TABLES if table_exists(con, "marts", t)}
    return {month: combine_hashes({t: d[month][1] for t, d in digests.items()}) for month in months}


def _record_path(data_dir: Path, month: str, fingerprint: str) -> Path:
    return Path(data_dir) / "checks" / check_month(month) / f"{fingerprint}.json"


def write_json_atomic(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)   # mkstemp makes 0600: catalog and manifests are for every reader
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_checks(data_dir: Path, month: str, fingerprint: str, outcomes: list) -> Path:
    """Store the outcomes of the checks run on the content with this fingerprint."""
    items = [o.to_dict() if hasattr(o, "to_dict") else dict(o) for o in outcomes]
    failed_blocking = [i["name"] for i in items if i["blocking"] and not i["passed"]]
    record = {
        "month": month,
        "fingerprint": fingerprint,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "checks": len(items),
        "passed": not failed_blocking and bool(items),
        "failed_blocking": failed_blocking,
        "warnings": [i["name"] for i in items if not i["blocking"] and not i["passed"]],
        "outcomes": items,
    }
    path = _record_path(data_dir, month, fingerprint)
    write_json_atomic(path, record)
    return path


def read_check_record(data_dir: Path, month: str, fingerprint: str) -> dict | None:
    path = _record_path(data_dir, month, fingerprint)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_check_record(data_dir: Path, month: str, fingerprint: str | None = None) -> dict:
    """The record for this fingerprint, or (without one) the month's most recent record; {} if none."""
    if fingerprint:
        return read_check_record(data_dir, month, fingerprint) or {}
    folder = Path(data_dir) / "checks" / check_month(month)
    records = []
    for path in folder.glob("*.json") if folder.exists() else []:
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    if not records:
        return {}
    return max(records, key=lambda r: r.get("recorded_at", ""))


def assert_may_publish(data_dir: Path, month: str, fingerprint: str) -> dict:
    """Return the passing check record for this content, or raise PublicationRefused saying why."""
    record = read_check_record(data_dir, month, fingerprint)
    if record is None:
        others = sorted((Path(data_dir) / "checks" / month).glob("*.json")) if (
            Path(data_dir) / "checks" / month).exists() else []
        if others:
            raise PublicationRefused(
                f"{month} was not published: the month's content changed after its checks ran "
                f"(fingerprint {fingerprint[:12]} has no check record). Run the checks for {month} again, "
                "then publish.")
        raise PublicationRefused(
            f"{month} was not published: no checks have been run on its content "
            f"(fingerprint {fingerprint[:12]}). Run the checks for {month} first, then publish.")
    failing = [o for o in record.get("outcomes", []) if o.get("blocking") and not o.get("passed")]
    if failing or not record.get("passed"):
        reasons = "; ".join(f"{o['name']}: {o['description']}" for o in failing[:5]) or "no checks recorded"
        more = f" (and {len(failing) - 5} more)" if len(failing) > 5 else ""
        raise PublicationRefused(
            f"{month} was not published: {len(failing)} blocking check(s) failed — {reasons}{more}. "
            "The previously published version is kept.")
    return record
