"""Run the previous month on a configurable day (VARDVAL_SCHEDULE_DAY, default the 5th), at 06:00
Swedish time (the partitions' timezone, core/months.py)."""
from __future__ import annotations

import os

import dagster as dg

from orchestration.defs.operations.jobs import monthly_job

monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_job,
    name="previous_month_schedule",
    day_of_month=int(os.environ.get("VARDVAL_SCHEDULE_DAY", "5")),
    hour_of_day=6,
    description="On the configured day at 06:00 Swedish time, materialise the month that has just ended.",
)
