"""Start a month when its three deliveries are complete, and again when one is corrected.

A correction of month M also re-runs the months whose windows reach back to M (continuity and
relisting: 12 months; coverage: 6; ended listings: 1), as one run over M..M+12 limited to months
already delivered. The sensor reads only the landing folder, never the warehouse: a run may be
writing it, and DuckDB allows one writer.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.defs.operations.jobs import monthly_job
from orchestration.months import shift_month
from orchestration.settings import get_settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
WINDOW_REACH_MONTHS = 12
SOURCES = ("listing", "visits", "telephony")


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


def plan_runs(landing_dir: Path, cursor: dict) -> tuple[list[PlannedRun], dict]:
    """Compare the landing folder with the cursor; return the runs to start and the new cursor."""
    new_cursor: dict = {}
    started: list[str] = []
    corrected: list[str] = []
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
        elif any(state[s]["sha256"] != before.get(s, {}).get("sha256") for s in SOURCES):
            corrected.append(month)

    known = sorted(new_cursor)
    runs = [PlannedRun(m, m, "complete") for m in started if m not in _dependents_of(corrected, known)]
    for month in corrected:
        reach = [m for m in known if month <= m <= shift_month(month, WINDOW_REACH_MONTHS)]
        runs.append(PlannedRun(month, reach[-1], f"correction of {month}"))
    return runs, new_cursor


def _dependents_of(corrected: list[str], known: list[str]) -> set[str]:
    return {m for c in corrected for m in known if c <= m <= shift_month(c, WINDOW_REACH_MONTHS)}


@dg.sensor(
    job=monthly_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a month when listing, visits and telephony have all landed, and re-runs it "
                "(with the months whose windows depend on it) when a file is corrected.",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    cursor = json.loads(context.cursor) if context.cursor else {}
    runs, new_cursor = plan_runs(get_settings().landing_dir, cursor)
    for run in runs:
        context.log.info(f"requesting {run.month_from}..{run.month_to} ({run.reason})")
        yield dg.RunRequest(
            run_key=f"{run.run_key}:{hashlib.sha256(json.dumps(new_cursor, sort_keys=True).encode()).hexdigest()[:12]}",
            tags={RANGE_START_TAG: run.month_from, RANGE_END_TAG: run.month_to, "vardval/reason": run.reason},
        )
    context.update_cursor(json.dumps(new_cursor, sort_keys=True))
