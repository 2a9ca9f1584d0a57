"""Start a month when its three deliveries are complete, again when one is corrected, and the
months a changed reference file changes (SPEC §9).

A correction of month M also re-runs the later months whose windows read the corrected source
of M (listing: 12 months; visits: 11, or further back for first assessments; telephony: none),
as one run over M..the last of them. Which months those are comes from each built month's
record of what it was built from (orchestration/dependencies.py); a month without a record
counts as reading M if it lies within 12 months. A changed reference file re-runs the built
months whose part of it changed (the model version valid in the month, the registry rows valid
at its end, the CNI/ACG year it uses, its grants, its extra assignments), one run per stretch
of consecutive months. The sensor reads the landing folder and those records, never the
warehouse: a run may be writing it, and DuckDB allows one writer.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from core.months import shift_month
from core.settings import get_settings
from orchestration.defs.operations.jobs import monthly_job
from orchestration.defs.sources.ingestion import REFERENCE_FILES, SOURCES
from orchestration.dependencies import read_record, reference_digests

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
WINDOW_REACH_MONTHS = 12
REFERENCE_KEY = "_reference"    # the cursor's entry for the reference files (months are YYYY-MM)


@dataclass(frozen=True)
class PlannedRun:
    month_from: str
    month_to: str
    reason: str

    @property
    def run_key(self) -> str:
        return f"{self.month_from}..{self.month_to}:{self.reason}"


def _delivered_files(month_dir: Path) -> dict[str, Path] | None:
    """The month's three files, or None while it is incomplete."""
    found = {}
    for source in SOURCES:
        candidates = [month_dir / f"{source}.{ext}" for ext in ("csv", "xlsx")]
        present = [p for p in candidates if p.exists() and p.stat().st_size > 0]
        if len(present) != 1:
            return None
        found[source] = present[0]
    return found


def _file_state(path: Path, previous: dict | None) -> dict:
    stat = path.stat()
    cheap = [path.name, stat.st_size, stat.st_mtime_ns]
    if previous and previous.get("stat") == cheap:
        return previous  # unchanged size and mtime: skip re-hashing
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"stat": cheap, "sha256": digest}


def plan_runs(landing_dir: Path, cursor: dict, data_dir: Path | None = None) -> tuple[list[PlannedRun], dict]:
    """Compare the landing folder with the cursor; return the runs to start and the new cursor.
    `data_dir` holds the records of what each month was built from (without it, or without a
    month's record, a correction reaches the 12 months after it)."""
    new_cursor: dict = {}
    started: list[str] = []
    corrected: dict[str, set[str]] = {}
    for month_dir in sorted(p for p in landing_dir.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]") if p.is_dir()):
        month = month_dir.name
        files = _delivered_files(month_dir)
        if files is None:
            if month in cursor:
                new_cursor[month] = cursor[month]
            continue
        before = cursor.get(month, {})
        state = {source: _file_state(path, before.get(source)) for source, path in files.items()}
        new_cursor[month] = state
        if not before:
            started.append(month)
        else:
            changed = {s for s in SOURCES if state[s]["sha256"] != before.get(s, {}).get("sha256")}
            if changed:
                corrected[month] = changed

    known = sorted(m for m in new_cursor if not m.startswith("_"))
    records = {m: read_record(data_dir, m) for m in known} if data_dir else {}
    reach = {c: _dependants(c, sources, known, records) for c, sources in corrected.items()}
    covered = {m for c in corrected for m in known if c <= m <= max(reach[c], default=c)}
    runs = [PlannedRun(m, m, "complete") for m in started if m not in covered]
    for month in sorted(corrected):
        runs.append(PlannedRun(month, max(reach[month], default=month), f"correction of {month}"))
        covered |= {m for m in known if month <= m <= runs[-1].month_to}

    reference_runs, new_cursor[REFERENCE_KEY] = _reference_runs(
        landing_dir / "reference", cursor.get(REFERENCE_KEY), known, records)
    runs += [r for r in reference_runs if not all(
        m in covered for m in known if r.month_from <= m <= r.month_to)]
    return runs, new_cursor


def _dependants(corrected: str, sources: set[str], known: list[str], records: dict) -> list[str]:
    """The known months after `corrected` that read one of its corrected `sources`."""
    out = []
    for month in known:
        if month <= corrected:
            continue
        record = records.get(month)
        if record is None:
            if month <= shift_month(corrected, WINDOW_REACH_MONTHS):
                out.append(month)
        elif any(corrected in record.get("sources", {}).get(s, {}) for s in sources):
            out.append(month)
    return out


def _reference_runs(reference_dir: Path, before: dict | None, known: list[str],
                    records: dict) -> tuple[list[PlannedRun], dict]:
    """Runs for the built months whose part of a changed reference file changed; the new state."""
    state = {name: _file_state(reference_dir / name, (before or {}).get(name))
             for name in REFERENCE_FILES if (reference_dir / name).is_file()}
    changed = sorted(name for name in set(state) | set(before or {})
                     if before is not None and (state.get(name) or {}).get("sha256")
                     != (before.get(name) or {}).get("sha256"))
    built = [m for m in known if records.get(m)]
    if not changed or not built:
        return [], state
    now = reference_digests(reference_dir, built, [records[m] for m in built])
    affected: dict[str, list[str]] = {}
    for month in built:
        for name in changed:
            was = records[month].get("references", {}).get(name, {}).get("digest")
            if was is None or now[month][name]["digest"] != was:
                affected.setdefault(month, []).append(name)
    runs, stretch = [], []
    for month in built + [None]:
        if month in affected and (not stretch or known.index(month) == known.index(stretch[-1]) + 1):
            stretch.append(month)
            continue
        if stretch:
            names = sorted({n for m in stretch for n in affected[m]})
            runs.append(PlannedRun(stretch[0], stretch[-1], f"{', '.join(names)} changed"))
        stretch = [month] if month in affected else []
    return runs, state


@dg.sensor(
    job=monthly_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a month when listing, visits and telephony have all landed, re-runs it "
                "(with the months whose windows depend on it) when a file is corrected, and re-runs "
                "the months a changed reference file changes.",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    cursor = json.loads(context.cursor) if context.cursor else {}
    settings = get_settings()
    runs, new_cursor = plan_runs(settings.landing_dir, cursor, settings.data_dir)
    for run in runs:
        context.log.info(f"requesting {run.month_from}..{run.month_to} ({run.reason})")
        yield dg.RunRequest(
            run_key=f"{run.run_key}:{hashlib.sha256(json.dumps(new_cursor, sort_keys=True).encode()).hexdigest()[:12]}",
            tags={RANGE_START_TAG: run.month_from, RANGE_END_TAG: run.month_to, "vardval/reason": run.reason},
        )
    context.update_cursor(json.dumps(new_cursor, sort_keys=True))
