"""Settings from the environment (SPEC §10), read when `get_settings()` is called so tests can
set them. Two are read when Dagster loads the definitions, because Dagster needs them then: the
partitions' first month (VARDVAL_FIRST_MONTH) and the schedule's day (VARDVAL_SCHEDULE_DAY,
orchestration/defs/operations/schedules.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    min_cell: int
    max_quarantine_share: float
    first_month: str

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
    )
