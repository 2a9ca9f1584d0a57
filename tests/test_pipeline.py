"""The whole pipeline on a small synthetic region: definitions, idempotence, no personnummer."""
from __future__ import annotations

import duckdb
import pytest

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
    # Quarter and year (SPEC §5.1): the year to date's reimbursement is the months' sum, its
    # listed count the last month's row, and it says it is to date.
    db = published_region.published / "published.duckdb"
    assert published_region.query("""
        select count(*) from reimbursement_yearly y
        join (select vardcentral_hsa_id, sum(total) as total from reimbursement_monthly group by 1) m
          using (vardcentral_hsa_id)
        where y.period = '2025' and (abs(y.total - m.total) > 0.005 or y.months_published != 2
                                     or y.is_complete)""", db) == [(0,)]
    assert published_region.query("""
        select count(*) from indicators_yearly y
        join indicators_monthly m on m.month = '2025-02' and m.vardcentral_hsa_id = y.vardcentral_hsa_id
         and m.indicator_code = y.indicator_code and m.sex = y.sex and m.profession = y.profession
        where y.indicator_code = 'listed_count' and y.period = '2025' and m.value = y.value""", db) \
        == published_region.query("select count(*) from indicators_monthly where month = '2025-02' "
                                  "and indicator_code = 'listed_count'", db)


def test_rerunning_an_unchanged_month_changes_nothing(published_region, tmp_path):
    region = published_region.copy(tmp_path / "region")
    marts_before = _marts_content(region.warehouse, "2025-02")
    published_before = tree_digest(region.published)
    result = run_ok(region, "run", "--from", "2025-02")
    assert "identical to the last delivery" in result.stdout
    assert _marts_content(region.warehouse, "2025-02") == marts_before
    after = tree_digest(region.published)
    # Same versions, same bytes (published.duckdb names no file, so a copied directory needs no
    # rebuild); only the publication lock file may be touched.
    unchanged = lambda files: {k: v for k, v in files.items() if not k.endswith(".lock")}
    assert unchanged(after) == unchanged(published_before)
    assert published_db_content(region) == published_db_content(published_region)


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


_ONE_MONTH_ALONE = """
import sys
from orchestration.cli.dagster_home import prepare_environment
from orchestration.cli.progress import make_console
from orchestration.cli.run import execute_job
from core.settings import get_settings
prepare_environment(get_settings())
sys.exit(0 if execute_job([sys.argv[1]], False, make_console(), True) else 1)
"""


def _ended_listings(region, month: str) -> list[tuple]:
    return region.query("select vardcentral_hsa_id, numerator from indicators_monthly where indicator_code = "
                        f"'ended_listings' and sex = 'all' and month = '{month}' and vardcentral_hsa_id <> 'REGION' "
                        "order by 1",
                        region.published / "published.duckdb")


@pytest.mark.slow
def test_a_correction_reruns_the_months_whose_windows_read_it_and_status_shows_them_stale(published_region,
                                                                                           tmp_path):
    """SPEC §9: February's ended listings and relisting read January's snapshot. A run of January
    alone (as the UI may start) leaves February stale in `vardval status`, with the reason and the
    command; `vardval run --from 2025-01` re-runs February in the same run; a changed reference
    file shows the months it changes as stale."""
    import subprocess
    import sys

    from tests.delivery_edits import Delivery

    region = published_region.copy(tmp_path / "region")
    january, february = (Delivery.load(region.landing / m / "listing.csv") for m in ("2025-01", "2025-02"))
    vc = january.col("vardcentral_hsa_id")
    person = lambda row: row[0].replace("-", "")   # the months write personnummer differently
    in_february = {person(row): row[vc] for row in february.rows}
    # listed at a VC at the end of January, not there at the end of February: February's ended listings
    moved = [row for row in january.rows if in_february.get(person(row)) != row[vc]]
    assert moved, "the synthetic region has listings that end in February"
    ended_before = _ended_listings(region, "2025-02")
    # January corrected: the persons whose listing ended in February were not listed in January
    january.rows = [row for row in january.rows if row not in moved]
    january.save()

    alone = subprocess.run([sys.executable, "-c", _ONE_MONTH_ALONE, "2025-01"], capture_output=True, text=True,
                           env=region.env(), cwd=region.root, timeout=600)
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-3000:]
    status = run_ok(region, "status").stdout
    assert "stale (v1 published)" in status and "listing of 2025-01 corrected since it was built" in status
    assert "vardval run --from 2025-02 --to 2025-02" in status
    assert _ended_listings(region, "2025-02") == ended_before          # not yet re-run

    # a reference change: an area's CNI of the year both months use (2025); a change to 2024 changes neither
    cni = Delivery.load(region.landing / "reference" / "cni_areas.csv")
    row = {year: next(i for i, r in enumerate(cni.rows) if r[cni.col("year")] == year) for year in ("2024", "2025")}
    cni.set(row["2024"], "cni", str(float(cni.get(row["2024"], "cni")) + 0.5))
    cni.save()
    assert "cni_areas.csv" not in run_ok(region, "status").stdout
    cni.set(row["2025"], "cni", str(float(cni.get(row["2025"], "cni")) + 0.5))
    cni.save()
    status = run_ok(region, "status").stdout
    assert status.count("cni_areas.csv changed for 2025-0") == 2 and "vardval run --from 2025-01 --to 2025-02" in status

    result = run_ok(region, "run", "--from", "2025-01")
    assert "2025-02: their windows read a corrected delivery" in result.stdout
    status = run_ok(region, "status").stdout
    assert "stale" not in status and status.count("published v") == 2
    ended_after = _ended_listings(region, "2025-02")
    assert ended_after != ended_before
    assert sum(n or 0 for _, n in ended_after) == sum(n or 0 for _, n in ended_before) - len(moved)


def test_each_published_month_is_paid_once_and_the_payouts_reconcile(published_region):
    """SPEC §6.1 through the pipeline: one payout per published month, each VC paid its total to
    the öre, with a payment file whose checksum is in the month's manifest."""
    import hashlib
    import json

    db = published_region.published / "published.duckdb"
    off = published_region.query("""
        select count(*) from payouts p full join reimbursement_monthly r
          on p.payout_month = r.month and p.vardcentral_hsa_id = r.vardcentral_hsa_id
        where p.payout_month is null or r.month is null or abs(p.amount_to_pay - r.total) > 0.005
           or p.adjustments_total <> 0""", db)
    assert [tuple(r) for r in off] == [(0,)]
    for month in ("2025-01", "2025-02"):
        manifest = json.loads((published_region.published / "versions" / month / "v0001" / "manifest.json").read_text())
        payment = published_region.published / manifest["payout"]["file"]
        assert hashlib.sha256(payment.read_bytes()).hexdigest() == manifest["payout"]["sha256"]
