"""Ingestion into the warehouse: reference data, and each month's three source files.

Plain functions (no Dagster) so the assets, the CLI and the tests share one code path.
A month's source is replaced whole, in one transaction; an identical redelivery is a no-op;
a file-level error is recorded in raw.ingest_errors (the gate blocks the month) and leaves
the month's previously accepted rows in place.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from core import vocabulary
from core.settings import Settings
from core.warehouse import RAW_COLUMN_CHANGES, RAW_DDL, WarehouseBusy, connect, ensure_schema
from orchestration.runtime.memory import release_freed_memory
from orchestration.runtime.parallel import imap_forked
from sources.pseudonym import MissingPseudonymKey, get_key
from sources.reading import IngestResult, SourceFileError
from sources.reimbursement_model import ModelValidationError, load_model, model_tables
from validations.contracts import reference
from validations.intake import read_listing, read_telephony, read_visits

SOURCES = vocabulary.SOURCES
REFERENCE_FILES = ("vardcentraler.csv", "cni_areas.csv", "acg_weights.csv",
                   "development_grants.csv", "extra_assignments.csv", "reimbursement_model.yaml")
# Ids must be unique across all months (SPEC §3.3, §3.4).
_ID_COLUMN = {"visits": "contact_id", "telephony": "call_id"}


@dataclass
class SourceOutcome:
    """What ingesting one source of one month did, for metadata and the summary."""
    month: str
    source: str
    status: str                       # 'new' | 'correction' | 'unchanged' | 'file_error'
    source_file: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    quarantine_share: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    masked_sample: list[dict] = field(default_factory=list)
    message: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _key_fingerprint(key: bytes) -> str:
    # Identifies the key without revealing it: a re-keyed warehouse must re-ingest.
    return hashlib.sha256(b"vardval-key-id:" + key).hexdigest()[:16]


# --- reference data -------------------------------------------------------------------

REFERENCE_STEP = "reference_data"  # the Dagster step that loads them, named in messages


def load_reference(settings: Settings, force: bool = False) -> dict:
    """Load the registry, CNI, ACG, grants, extra assignments and the payment model; skip if
    none changed (nor the raw tables' definition, which a reload fills anew).

    A failure is recorded in raw.reference_errors (shown as every month's reason by the run
    summary and `vardval status`) and raised; the next load that succeeds clears it."""
    try:
        return _load_reference(settings, force)
    except (WarehouseBusy, MissingPseudonymKey):
        raise   # not the files' fault: said as they are, nothing recorded
    except Exception as exc:
        _record_reference_error(settings, str(exc) if isinstance(exc, (SourceFileError, ModelValidationError))
                                else f"{type(exc).__name__}: {exc}")
        raise


def _record_reference_error(settings: Settings, message: str) -> None:
    with connect(settings.warehouse_path) as con:
        ensure_schema(con)
        con.execute("begin")
        con.execute("delete from raw.reference_errors")
        con.execute("insert into raw.reference_errors values (?, ?)", [message, dt.datetime.now()])
        con.execute("commit")


def reference_error(con) -> str | None:
    """The recorded reference failure, if the last load failed (None on an older warehouse)."""
    if not con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                       "and table_name = 'reference_errors'").fetchone()[0]:
        return None
    row = con.execute("select message from raw.reference_errors").fetchone()
    return row[0] if row else None


def _load_reference(settings: Settings, force: bool) -> dict:
    ref_dir = settings.landing_dir / "reference"
    present = {name: ref_dir / name for name in REFERENCE_FILES if (ref_dir / name).exists()}
    for required in ("vardcentraler.csv", "reimbursement_model.yaml", "cni_areas.csv"):
        if required not in present:
            raise SourceFileError(f"{ref_dir / required}: reference file missing")
    key = get_key()
    checksums = {name: sha256_of(path) for name, path in present.items()}
    checksums["pseudonym-key"] = _key_fingerprint(key)
    checksums["raw-schema"] = hashlib.sha256((RAW_DDL + RAW_COLUMN_CHANGES).encode()).hexdigest()[:16]

    with connect(settings.warehouse_path) as con:
        ensure_schema(con)
        loaded = dict(con.execute("select file_name, sha256 from raw.reference_files").fetchall())
        if loaded == checksums and not force:
            con.execute("delete from raw.reference_errors")   # the files are back as loaded
            return {"status": "unchanged", "files": sorted(present)}

    # Parse and validate everything before touching the warehouse.
    units = reference.load_units(present["vardcentraler.csv"])
    tables: dict[str, pd.DataFrame] = {
        "vardcentraler": units,
        "cni_areas": reference.load_cni_areas(present["cni_areas.csv"]),
        "acg_weights": reference.load_acg_weights(ref_dir / "acg_weights.csv", key),
        "development_grants": reference.load_development_grants(ref_dir / "development_grants.csv", units),
        "extra_assignments": reference.load_extra_assignments(ref_dir / "extra_assignments.csv", units),
    }
    tables.update(model_tables(load_model(present["reimbursement_model.yaml"])))

    now = dt.datetime.now()
    with connect(settings.warehouse_path) as con:
        con.execute("begin")
        for table, frame in tables.items():
            con.execute(f"delete from raw.{table}")
            _insert(con, f"raw.{table}", frame)
        con.execute("delete from raw.reference_files")
        con.executemany("insert into raw.reference_files values (?, ?, ?)",
                        [(name, sha, now) for name, sha in checksums.items()])
        con.execute("delete from raw.reference_errors")
        con.execute("commit")
    rows = {table: len(frame) for table, frame in tables.items()}
    del tables
    release_freed_memory()
    return {"status": "loaded", "files": sorted(present), "rows": rows}


def read_units(settings: Settings) -> pd.DataFrame:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute("select * from raw.vardcentraler").df()


# --- monthly sources ------------------------------------------------------------------

def _delivered_file(landing_dir: Path, month: str, source: str) -> Path | None:
    candidates = [landing_dir / month / f"{source}.{ext}" for ext in ("csv", "xlsx")]
    found = [path for path in candidates if path.exists()]
    return found[0] if len(found) == 1 else None


def ingest_month(settings: Settings, month: str, force: bool = False) -> list[SourceOutcome]:
    """Ingest the three sources of one month; returns one outcome per source."""
    return ingest_months(settings, [month], force)


# Reading and validating a delivery is pure (files in, frames out) and CPU-bound; storing it
# is not (the ids already used in other months depend on the months stored before it). So a
# range is read over the cores while this process stores the deliveries already read, month
# by month, in order. When a month's deliveries are above this many bytes (a national month)
# the reads stay in this process and each delivery is stored before the next is read: two
# national listings in memory at once would cost more RAM than the cores save time.
PARALLEL_READ_MAX_BYTES = 256 * 1024 * 1024


def ingest_months(settings: Settings, months: list[str], force: bool = False) -> list[SourceOutcome]:
    """Ingest the three sources of each month, months in order; one outcome per month and source."""
    key = get_key()
    registry_sha = _registry_fingerprint(settings)
    units = read_units(settings)
    decided: dict[tuple[str, str], SourceOutcome] = {}
    pending: list[tuple[str, str, Path | None, str | None]] = []
    month_bytes: dict[str, int] = {}
    for month in months:
        for source in SOURCES:
            path = _delivered_file(settings.landing_dir, month, source)
            fingerprint = f"{sha256_of(path)}:{registry_sha}:{_key_fingerprint(key)}" if path else None
            unchanged = None if force else _unchanged_delivery(settings, month, source, path, fingerprint)
            if unchanged is not None:
                decided[(month, source)] = unchanged
            else:
                pending.append((month, source, path, fingerprint))
                month_bytes[month] = month_bytes.get(month, 0) + (path.stat().st_size if path else 0)

    def read(item, _units=units):
        return _read_or_error(settings.landing_dir, item[0], item[1], _units, key)

    in_parallel = max(month_bytes.values(), default=0) <= PARALLEL_READ_MAX_BYTES
    results = imap_forked(read, pending) if in_parallel else map(read, pending)
    # Not `enumerate(results)`: enumerate keeps its last (index, result) pair until the next
    # result is made, so a national listing's frames (~2.5 GiB) stayed alive through the read
    # of the visits after it.
    for index, (month, source, path, fingerprint) in enumerate(pending):
        result = next(results)
        decided[(month, source)] = _store(settings, month, source, path, fingerprint, result)
        result = None  # the frames go before the memory is released
        if not in_parallel or index + 1 == len(pending) or pending[index + 1][0] != month:
            release_freed_memory()
    return [decided[(month, source)] for month in months for source in SOURCES]


def _registry_fingerprint(settings: Settings) -> str:
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("select file_name, sha256 from raw.reference_files order by 1").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _unchanged_delivery(settings: Settings, month: str, source: str, path: Path | None,
                        fingerprint: str | None) -> SourceOutcome | None:
    """The outcome 'unchanged' when this exact file was ingested last time without errors."""
    if path is None:
        return None
    with connect(settings.warehouse_path) as con:
        current = con.execute(
            "select source_file, ingest_fingerprint, rows_read, rows_accepted, rows_quarantined "
            "from raw.source_files where month = ? and source = ?", [month, source]).fetchall()
        current = current[0] if current else None
        has_errors = con.execute("select count(*) from raw.ingest_errors where month = ? and source = ?",
                                 [month, source]).fetchall()[0][0]
    if current and current[0] == path.name and current[1] == fingerprint and not has_errors:
        _record_delivery(settings, month, source, path.name, fingerprint.split(":")[0], "unchanged")
        return SourceOutcome(month, source, "unchanged", path.name, *current[2:5],
                             message=f"{path.name} for {month} is identical to the last delivery: nothing to do")
    return None


def _read_or_error(landing_dir: Path, month: str, source: str, units: pd.DataFrame,
                   key: bytes) -> IngestResult | SourceFileError:
    try:
        return _read(landing_dir, month, source, units, key)
    except SourceFileError as exc:   # returned, not raised: one bad file must not hide the others
        return exc


def _store(settings: Settings, month: str, source: str, path: Path | None, fingerprint: str | None,
           result: IngestResult | SourceFileError) -> SourceOutcome:
    if isinstance(result, SourceFileError):
        _record_file_error(settings, month, source, path.name if path else None, str(result))
        return SourceOutcome(month, source, "file_error", path.name if path else None, message=str(result))
    with connect(settings.warehouse_path) as con:
        _quarantine_ids_used_in_other_months(con, result)
        status = _write_month(con, result, fingerprint)
    return _outcome(result, status)


def _read(landing_dir: Path, month: str, source: str, units: pd.DataFrame, key: bytes) -> IngestResult:
    if source == "listing":
        return read_listing(landing_dir, month, units, key)
    if source == "visits":
        return read_visits(landing_dir, month, units, key)
    return read_telephony(landing_dir, month, units)


def _quarantine_ids_used_in_other_months(con: duckdb.DuckDBPyConnection, result: IngestResult) -> None:
    id_column = _ID_COLUMN.get(result.source)
    if id_column is None or result.accepted.empty:
        return
    ids = result.accepted[[id_column]]
    con.register("incoming_ids", ids)
    taken = con.execute(
        f"select distinct t.{id_column}, t.month from raw.{result.source} t "
        f"join incoming_ids i using ({id_column}) where t.month <> ?", [result.month]).df()
    con.unregister("incoming_ids")
    if taken.empty:
        return
    first_month = taken.groupby(id_column)["month"].min()
    mask = result.accepted[id_column].isin(first_month.index)
    months = ", ".join(sorted(first_month.unique())[:3])
    result.move_to_quarantine(mask, id_column, f"duplicate {id_column}: already delivered for {months}")


def _write_month(con: duckdb.DuckDBPyConnection, result: IngestResult, fingerprint: str) -> str:
    month, source, info = result.month, result.source, result.file
    previous = con.execute("select sha256 from raw.source_files where month = ? and source = ?",
                           [month, source]).fetchall()
    previous = previous[0] if previous else None
    status = "new" if previous is None else ("correction" if previous[0] != info.sha256 else "reingested")
    now = dt.datetime.now()
    con.execute("begin")
    con.execute(f"delete from raw.{source} where month = ?", [month])
    _insert(con, f"raw.{source}", result.accepted)
    con.execute("delete from raw.quarantine where month = ? and source = ?", [month, source])
    _insert(con, "raw.quarantine", result.quarantine)
    con.execute("delete from raw.ingest_errors where month = ? and source = ?", [month, source])
    con.execute("delete from raw.source_files where month = ? and source = ?", [month, source])
    con.execute(
        "insert into raw.source_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [month, source, info.name, info.sha256, info.size_bytes, info.file_format, info.encoding,
         info.separator, ",".join(info.extra_columns) or None, result.rows_read,
         len(result.accepted), _quarantined_lines(result), fingerprint, now])
    con.execute("insert into raw.delivery_ledger values (?, ?, ?, ?, ?, ?)",
                [month, source, info.name, info.sha256, status, now])
    con.execute("commit")
    return status


def _quarantined_lines(result: IngestResult) -> int:
    if result.quarantine.empty:
        return 0
    return int(result.quarantine["source_line"].nunique(dropna=False))


def _record_file_error(settings: Settings, month: str, source: str, file_name: str | None, message: str) -> None:
    with connect(settings.warehouse_path) as con:
        con.execute("begin")
        con.execute("delete from raw.ingest_errors where month = ? and source = ?", [month, source])
        con.execute("insert into raw.ingest_errors values (?, ?, ?, ?, ?)",
                    [month, source, file_name, message, dt.datetime.now()])
        con.execute("commit")


def _record_delivery(settings: Settings, month: str, source: str, file_name: str, sha: str, status: str) -> None:
    with connect(settings.warehouse_path) as con:
        con.execute("insert into raw.delivery_ledger values (?, ?, ?, ?, ?, ?)",
                    [month, source, file_name, sha, status, dt.datetime.now()])


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("incoming", frame)
    con.execute(f"insert into {table} by name select * from incoming")
    con.unregister("incoming")


def _outcome(result: IngestResult, status: str) -> SourceOutcome:
    quarantined = _quarantined_lines(result)
    reasons = (result.quarantine["reason"].value_counts().to_dict() if quarantined else {})
    sample = (result.quarantine.head(5)[["source_line", "column_name", "reason", "masked_value"]]
              .astype(str).to_dict("records") if quarantined else [])
    return SourceOutcome(
        month=result.month, source=result.source, status=status, source_file=result.file.name,
        rows_read=result.rows_read, rows_accepted=len(result.accepted), rows_quarantined=quarantined,
        quarantine_share=quarantined / result.rows_read if result.rows_read else 0.0,
        reasons={str(k): int(v) for k, v in reasons.items()}, masked_sample=sample,
    )
