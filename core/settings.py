"""Settings from the environment (SPEC §10), read when `get_settings()` is called so tests can
set them. Three are read when Dagster loads the definitions, because Dagster needs them then: the
partitions' first month (VARDVAL_FIRST_MONTH), the schedule's day (VARDVAL_SCHEDULE_DAY,
orchestration/defs/operations/schedules.py) and the runtime, which picks the dbt resource
(VARDVAL_RUNTIME, orchestration/runtime/dbt_resource.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The start-up and memory measures a run may take (orchestration/runtime): VARDVAL_RUNTIME=fast
# takes them all, plain none (stock dagster-dbt, Dagster's own storage, one process), and a
# comma-separated list of them takes those alone, to measure one against plain.
RUNTIME_PIECES = ("dbt_worker", "lean_dbt", "eventlog", "ge_preload", "fork_pool", "malloc_trim", "fast_exit")


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    min_cell: int
    max_quarantine_share: float
    first_month: str
    runtime: frozenset[str] = frozenset(RUNTIME_PIECES)

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def statements_dir(self) -> Path:
        return self.data_dir / "statements"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def get_settings() -> Settings:
    return Settings(
        landing_dir=Path(os.environ.get("VARDVAL_LANDING_DIR", "data/landing")).resolve(),
        data_dir=Path(os.environ.get("VARDVAL_DATA_DIR", "data")).resolve(),
        min_cell=int(os.environ.get("VARDVAL_MIN_CELL", "20")),
        max_quarantine_share=float(os.environ.get("VARDVAL_MAX_QUARANTINE_SHARE", "0.005")),
        first_month=os.environ.get("VARDVAL_FIRST_MONTH", "2024-01"),
        runtime=runtime_pieces(os.environ.get("VARDVAL_RUNTIME", "fast")),
    )


def runtime_pieces(value: str) -> frozenset[str]:
    """VARDVAL_RUNTIME: `fast`, `plain`, or a comma-separated list of RUNTIME_PIECES."""
    value = value.strip().lower()
    if value in ("fast", ""):
        return frozenset(RUNTIME_PIECES)
    if value == "plain":
        return frozenset()
    pieces = {piece.strip() for piece in value.split(",") if piece.strip()}
    unknown = sorted(pieces - set(RUNTIME_PIECES))
    if unknown:
        raise ValueError(f"VARDVAL_RUNTIME={value!r}: not a runtime piece: {', '.join(unknown)}; use fast, "
                         f"plain or a comma-separated list of {', '.join(RUNTIME_PIECES)}")
    return frozenset(pieces)
