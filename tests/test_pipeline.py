"""The whole pipeline on a small synthetic region: definitions, idempotence, no personnummer."""
from __future__ import annotations

import duckdb

from tests.pii_scan import scan_files
from tests.pipeline_fixture import published_db_content, run_ok, tree_digest


def test_definitions_load_with_domains_job_schedule_and_sensor():
    import dagster as dg

    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    specs = defs.resolve_all_asset_specs()
    groups = {spec.group_name for spec in specs}
    assert {"sources", "staging", "indicators", "reimbursement", "quality", "publication"} <= groups
    # Every asset is monthly but dbt's views, which are definitions built per code version.
    unpartitioned = {spec.key for spec in specs if spec.partitions_def is None}
    assert unpartitioned and all(key.path[0] in ("staging", "intermediate") for key in unpartitioned)
    monthly_job = defs.resolve_job_def("monthly_job")
    assert not unpartitioned & monthly_job.asset_layer.executable_asset_keys
    assert defs.resolve_schedule_def("previous_month_schedule") is not None
    assert defs.resolve_sensor_def("landing_sensor") is not None


def test_months_are_published_with_every_table(published_region):
    tables = {row[0] for row in published_region.query(
        "select table_name from information_schema.tables", published_region.published / "published.duckdb")}
    assert {"indicators_monthly", "listing_monthly", "contacts_monthly", "reimbursement_monthly",
            "reimbursement_person_monthly", "data_quality_monthly", "vardcentraler"} <= tables
    months = published_region.query("select distinct month from reimbursement_monthly order by 1",
                                     published_region.published / "published.duckdb")
    assert [m[0] for m in months] == ["2025-01", "2025-02"]
    # Every open VC has a row, and the components add up to the total.
    gaps = published_region.query("""
        select count(*) from reimbursement_monthly
        where abs(capitation + acg + cni + geography + sabo + visit_fees + visits_elsewhere_deduction
                  + goal_payment + start_grant + extra_assignments + development_grant + vat_compensation
                  - total) > 0.005""",
                                  published_region.published / "published.duckdb")
    assert gaps == [(0,)]


def test_rerunning_an_unchanged_month_changes_nothing(published_region, tmp_path):
    region = published_region.copy(tmp_path / "region")
    marts_before = _marts_content(region.warehouse, "2025-02")
    published_before = tree_digest(region.published)
    result = run_ok(region, "run", "--from", "2025-02")
    assert "identical to the last delivery" in result.stdout
    assert _marts_content(region.warehouse, "2025-02") == marts_before
    after = tree_digest(region.published)
    # Same versions, same bytes; only the publication lock file may be touched, and
    # published.duckdb: its person view named the copied directory's files, so the run
    # rebuilt it to name this one's, with the same content.
    unchanged = lambda files: {k: v for k, v in files.items() if not k.endswith(".lock") and k != "published.duckdb"}
    assert unchanged(after) == unchanged(published_before)
    assert published_db_content(region) == published_db_content(published_region)
    view = region.query("select sql from duckdb_views() where view_name = 'reimbursement_person_monthly'",
                        region.published / "published.duckdb")[0][0]
    assert str(region.published.resolve()) in view and str(published_region.published.resolve()) not in view


def test_forced_reingest_gives_identical_tables(published_region, tmp_path):
    region = published_region.copy(tmp_path / "region")
    raw_before = _raw_content(region.warehouse, "2025-01")
    marts_before = _marts_content(region.warehouse, "2025-01")
    run_ok(region, "run", "--from", "2025-01", "--force")
    assert _raw_content(region.warehouse, "2025-01") == raw_before
    assert _marts_content(region.warehouse, "2025-01") == marts_before


def test_no_personnummer_anywhere_in_the_warehouse(published_region):
    # every text column of every table and view, all schemas (helper: tests/pii_scan.py)
    hits = scan_files([published_region.warehouse])
    assert hits == {}, f"personnummer-shaped values in: {sorted(hits)}"


def _raw_content(warehouse, month):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {table: con.execute(f"select * exclude (source_file) from raw.{table} where month = ? order by all",
                                   [month]).fetchall()
                for table in ("listing", "visits", "telephony", "quarantine")}


def _marts_content(warehouse, month):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {table: con.execute(f"select * from marts.{table} where month = ? order by all", [month]).fetchall()
                for table in ("indicators_monthly", "listing_monthly", "contacts_monthly",
                              "reimbursement_monthly", "reimbursement_person_monthly")}
