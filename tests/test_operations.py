"""The schedule, the sensor's planning of runs, and the small pure helpers the runs depend on."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.operations.sensors import landing_sensor, plan_runs
from orchestration.defs.transform.project import dbt_run_window
from orchestration.months import month_bounds, month_range, shift_month, validate_month


def deliver(landing: Path, month: str, listing_ext: str = "csv", content: str = "x") -> None:
    folder = landing / month
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"listing.{listing_ext}").write_text(f"listing {content}")
    (folder / "visits.csv").write_text(f"visits {content}")
    (folder / "telephony.csv").write_text(f"telephony {content}")


def test_month_helpers():
    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert shift_month("2025-01", -1) == "2024-12"
    assert shift_month("2025-01", 12) == "2026-01"
    assert month_bounds("2024-02")[1].day == 29
    with pytest.raises(ValueError, match="not a month"):
        validate_month("2025-13")
    with pytest.raises(ValueError, match="empty"):
        month_range("2025-02", "2025-01")


def test_dbt_run_window_carries_the_range_and_min_cell():
    assert dbt_run_window("2025-01", "2025-03", 20) == {"month_from": "2025-01", "month_to": "2025-03", "min_cell": 20}
    with pytest.raises(ValueError):
        dbt_run_window("2025-03", "2025-01", 20)


def test_sensor_starts_only_complete_months(tmp_path):
    deliver(tmp_path, "2025-01")
    (tmp_path / "2025-02").mkdir()
    (tmp_path / "2025-02" / "visits.csv").write_text("partial")
    runs, cursor = plan_runs(tmp_path, {})
    assert [(r.month_from, r.month_to, r.reason) for r in runs] == [("2025-01", "2025-01", "complete")]
    assert "2025-02" not in cursor

    # Nothing changed: nothing to do.
    again, cursor2 = plan_runs(tmp_path, cursor)
    assert again == [] and cursor2 == cursor

    # The month completes: it starts.
    deliver(tmp_path, "2025-02")
    runs, cursor = plan_runs(tmp_path, cursor)
    assert [(r.month_from, r.month_to) for r in runs] == [("2025-02", "2025-02")]


def test_sensor_reruns_a_corrected_month_with_its_dependants(tmp_path):
    for month in month_range("2025-01", "2025-04"):
        deliver(tmp_path, month)
    _, cursor = plan_runs(tmp_path, {})
    time.sleep(0.01)
    (tmp_path / "2025-02" / "visits.csv").write_text("visits corrected")
    runs, cursor = plan_runs(tmp_path, cursor)
    assert [(r.month_from, r.month_to, r.reason) for r in runs] == [
        ("2025-02", "2025-04", "correction of 2025-02")]
    # A touch without a content change is not a correction.
    os.utime(tmp_path / "2025-03" / "visits.csv")
    runs, _ = plan_runs(tmp_path, cursor)
    assert runs == []


def test_sensor_tick_yields_range_run_requests(tmp_path, monkeypatch):
    monkeypatch.setenv("VARDVAL_LANDING_DIR", str(tmp_path))
    deliver(tmp_path, "2025-01")
    context = dg.build_sensor_context(cursor=None)
    requests = list(landing_sensor(context))
    assert len(requests) == 1
    assert requests[0].tags["dagster/asset_partition_range_start"] == "2025-01"
    assert "2025-01" in json.loads(context.cursor)
    context2 = dg.build_sensor_context(cursor=context.cursor)
    assert list(landing_sensor(context2)) == []


def test_schedule_runs_the_month_that_just_ended_in_swedish_time():
    import datetime
    from zoneinfo import ZoneInfo

    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("previous_month_schedule")
    assert schedule.execution_timezone == "Europe/Stockholm"
    assert schedule.cron_schedule == "0 6 5 * *"
    stockholm = ZoneInfo("Europe/Stockholm")
    context = dg.build_schedule_context(scheduled_execution_time=datetime.datetime(2025, 4, 5, 6, 0, tzinfo=stockholm))
    result = schedule.evaluate_tick(context)
    assert [r.partition_key for r in result.run_requests] == ["2025-03"]
    # 23:30 UTC on 31 March is 01:30 on 1 April in Stockholm: April's month already.
    partitions = defs.resolve_job_def("monthly_job").partitions_def
    late_march_utc = datetime.datetime(2025, 3, 31, 23, 30, tzinfo=datetime.timezone.utc)
    assert partitions.get_partition_key_for_timestamp(late_march_utc.timestamp()) == "2025-04"
