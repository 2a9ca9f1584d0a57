"""The schedule, the sensor's planning of runs, and the small pure helpers the runs depend on."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from core.months import check_month, month_bounds, month_range, shift_month
from orchestration.defs.operations.sensors import landing_sensor, plan_runs
from orchestration.defs.transform.project import dbt_run_window


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
        check_month("2025-13")
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


# ------------------------------------------------- dependants and reference changes (SPEC §9)

MODEL = """versions:
  - valid_from: 2025-01-01
    valid_to: 2025-12-31
    acg_sek_per_weight_year: 900
  - valid_from: 2026-01-01
    valid_to: null
    acg_sek_per_weight_year: {acg}
"""


def _region_with_records(tmp_path: Path, months: list[str]) -> tuple[Path, Path, dict]:
    """Landing folder with deliveries and reference files, and a record of what each month was
    built from, as a dbt build writes it (dependencies.record_built_from); the sensor's cursor."""
    from orchestration.dependencies import _reach, reference_digests

    landing, data = tmp_path / "landing", tmp_path / "data"
    for month in months:
        deliver(landing, month, content=month)
    ref = landing / "reference"
    ref.mkdir(parents=True)
    (ref / "reimbursement_model.yaml").write_text(MODEL.format(acg=900))
    (ref / "vardcentraler.csv").write_text(
        "hsa_id;name;valid_from;valid_to\nVC1;Norra;;2025-06-30\nVC1;Norra AB;2025-07-01;\nVC2;Södra;;\n")
    (ref / "cni_areas.csv").write_text("deso,year,cni\nA1,2025,1.1\nA1,2026,1.2\n")
    references = reference_digests(ref, months)
    (data / "built_from").mkdir(parents=True)
    for month in months:
        sources = {s: {d: "x" for d in _reach(s, month, None) if d in months} for s in ("listing", "visits", "telephony")}
        (data / "built_from" / f"{month}.json").write_text(json.dumps(
            {"month": month, "sources": sources, "references": references[month]}))
    _, cursor = plan_runs(landing, {}, data)
    return landing, data, cursor


def _planned(landing, cursor, data):
    """The sensor's runs, and the records as those runs leave them (their months rebuilt)."""
    from orchestration.dependencies import reference_digests

    runs, cursor = plan_runs(landing, cursor, data)
    for run in runs:
        rebuilt = month_range(run.month_from, run.month_to)
        now = reference_digests(landing / "reference", rebuilt)
        for month in rebuilt:
            path = data / "built_from" / f"{month}.json"
            path.write_text(json.dumps({**json.loads(path.read_text()), "references": now[month]}))
    return [(r.month_from, r.month_to, r.reason) for r in runs], cursor


def test_a_correction_reruns_exactly_the_months_whose_windows_read_it(tmp_path):
    months = month_range("2025-01", "2026-03")
    landing, data, cursor = _region_with_records(tmp_path, months)
    time.sleep(0.01)
    (landing / "2025-02" / "telephony.csv").write_text("telephony corrected")
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-02", "2025-02", "correction of 2025-02")]     # calls: the month's own
    (landing / "2025-02" / "visits.csv").write_text("visits corrected")
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-02", "2026-01", "correction of 2025-02")]     # continuity: 12 months
    (landing / "2025-02" / "listing.csv").write_text("listing corrected")
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-02", "2026-02", "correction of 2025-02")]     # relisting: 12 changes


def test_a_changed_reference_file_reruns_the_months_it_changes(tmp_path):
    months = month_range("2025-10", "2026-03")
    landing, data, cursor = _region_with_records(tmp_path, months)
    ref = landing / "reference"
    assert _planned(landing, cursor, data)[0] == []

    (ref / "reimbursement_model.yaml").write_text(MODEL.format(acg=950))    # the 2026 version only
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2026-01", "2026-03", "reimbursement_model.yaml changed")]

    (ref / "cni_areas.csv").write_text("deso,year,cni\nA1,2025,1.15\nA1,2026,1.2\n")   # the year 2025
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-10", "2025-12", "cni_areas.csv changed")]

    # a registry row valid from 2025-07-01: every month of the window uses it
    (ref / "vardcentraler.csv").write_text(
        "hsa_id;name;valid_from;valid_to\nVC1;Norra;;2025-06-30\nVC1;Norra Vård AB;2025-07-01;\nVC2;Södra;;\n")
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-10", "2026-03", "vardcentraler.csv changed")]
    # a change to the row that ended before the window changes none of its months
    (ref / "vardcentraler.csv").write_text(
        "hsa_id;name;valid_from;valid_to\nVC1;Norra VC;;2025-06-30\nVC1;Norra Vård AB;2025-07-01;\nVC2;Södra;;\n")
    assert _planned(landing, cursor, data)[0] == []

    (ref / "development_grants.csv").write_text("payout_month;pot_sek;hsa_id\n2025-11;100000;VC1\n2026-02;5;VC2\n")
    planned, cursor = _planned(landing, cursor, data)
    assert planned == [("2025-11", "2025-11", "development_grants.csv changed"),
                       ("2026-02", "2026-02", "development_grants.csv changed")]


def test_a_run_of_a_corrected_month_takes_the_published_months_that_read_it(tmp_path):
    """`vardval run --from M` (cli._with_dependants): the later published months whose recorded
    windows read a delivery of M that differs from what is landed now; a telephony correction
    takes none, a listing correction the 12 months after it."""
    import hashlib

    import duckdb

    from core.warehouse import ensure_schema
    from orchestration.dependencies import _reach, dependants_of_run

    months = month_range("2025-01", "2026-03")
    landing, data = tmp_path / "landing", tmp_path / "data"
    sha = {}
    for month in months:
        deliver(landing, month, content=month)
        for source in ("listing", "visits", "telephony"):
            sha[(month, source)] = hashlib.sha256((landing / month / f"{source}.csv").read_bytes()).hexdigest()
    (data / "built_from").mkdir(parents=True)
    for month in months:
        sources = {s: {d: sha.get((d, s)) for d in _reach(s, month, None)} for s in ("listing", "visits", "telephony")}
        (data / "built_from" / f"{month}.json").write_text(json.dumps({"month": month, "sources": sources}))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(con)
    con.executemany("insert into raw.source_files values (?, ?, ?, ?, 1, 'csv', 'utf-8', ',', null, 1, 1, 0, ?, now())",
                    [[m, s, f"{s}.csv", h, h] for (m, s), h in sha.items()])

    assert dependants_of_run(con, data, landing, ["2025-02"], months) == []
    (landing / "2025-02" / "telephony.csv").write_text("telephony corrected")
    assert dependants_of_run(con, data, landing, ["2025-02"], months) == []
    (landing / "2025-02" / "listing.csv").write_text("listing corrected")
    assert dependants_of_run(con, data, landing, ["2025-02"], months) == month_range("2025-03", "2026-02")
    # only published months count
    assert dependants_of_run(con, data, landing, ["2025-02"], months[:4]) == ["2025-03", "2025-04"]
    con.close()
