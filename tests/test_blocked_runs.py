"""SPEC §7 and §8 through whole runs of `vardval run`: blocked months keep what was published.

Two runs over copies of the `published_region` (both months published as v1):

* `faulty_run` batches several faults into ONE run: in 2025-01 the listing has just below the
  quarantine limit of bad rows (the month publishes v2 and reports them); in 2025-02 the
  visits file has a renamed column (a file error) and the telephony file has just above the
  limit (both block the month). A BI reader holds published.duckdb open during the run.
* a run whose reimbursement model has a gap stops before anything is built.

Each fault's message, line and column are proven at ingestion level in test_bad_input.py.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from core.published_tables import NON_MONTHLY, PUBLISHED_TABLES
from tests.delivery_edits import Delivery
from tests.pii_scan import personnummer_hits, scan_outputs
from tests.pipeline_fixture import Region, tree_digest

UNKNOWN_UNIT = "SE2321000180-E000000000999"
DEFAULT_MAX_SHARE = 0.005          # VARDVAL_MAX_QUARANTINE_SHARE's default (SPEC §10)
MONTHLY = [t for t in PUBLISHED_TABLES if t not in NON_MONTHLY]


def published_files(digest: dict[str, str], month: str) -> dict[str, str]:
    return {path: sha for path, sha in digest.items() if month in path}


def published_rows(region: Region, month: str) -> dict[str, list]:
    db = region.published / "published.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = {t: con.execute(f"select * from {t} where month = ? order by all", [month]).fetchall()
                for t in MONTHLY}
        rows["published_versions"] = con.execute(
            "select month, version, content_hash from published_versions where month = ?", [month]).fetchall()
    return rows


def corrupt_units(delivery: Delivery, count: int) -> list[int]:
    """Give `count` rows, spread over the file, an unknown unit; returns their lines."""
    step = len(delivery.rows) // count
    return [delivery.set(i * step, "vardcentral_hsa_id", UNKNOWN_UNIT) for i in range(count)]


def start_readers(published: Path, folder: Path) -> list[subprocess.Popen]:
    """Two BI readers (tests/published_reader.py): one holds published.duckdb open, one re-opens it."""
    folder.mkdir(parents=True, exist_ok=True)
    readers = [subprocess.Popen([sys.executable, "-m", "tests.published_reader", str(published), str(folder / "stop"),
                                 *mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=Path(__file__).resolve().parents[1])
               for mode in ([], ["--hold"])]
    deadline = time.monotonic() + 60
    while not ((folder / "reader_ready").exists() and (folder / "reader_ready_hold").exists()):
        for reader in readers:
            assert reader.poll() is None, reader.communicate()
        assert time.monotonic() < deadline, "the readers did not start"
        time.sleep(0.1)
    return readers


def stop_readers(readers: list[subprocess.Popen], folder: Path) -> list[tuple[int, dict, str]]:
    (folder / "stop").touch()
    outcomes = []
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        outcomes.append((reader.returncode, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err))
    return outcomes


@dataclass
class FaultyRun:
    region: Region
    before: dict[str, str]             # tree_digest(published) before the run
    before_rows: dict[str, list]       # published.duckdb rows of the blocked month before the run
    statements_before: dict[str, str]
    result: subprocess.CompletedProcess
    below: tuple[int, int]             # (quarantined, rows) in 2025-01 listing.csv
    above: tuple[int, int]             # (quarantined, rows) in 2025-02 telephony.csv
    readers: list[tuple[int, dict, str]]   # (exit status, report, stderr): re-opening, holding

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def faulty_run(published_region, tmp_path_factory) -> FaultyRun:
    region = published_region.copy(tmp_path_factory.mktemp("faulty_run") / "region")
    before = tree_digest(region.published)
    before_rows = published_rows(region, "2025-02")
    statements_before = tree_digest(region.data / "statements")

    listing = region_delivery(region, "2025-01", "listing")
    below = math.floor(len(listing.rows) * DEFAULT_MAX_SHARE)
    corrupt_units(listing, below)
    listing.save()
    telephony = region_delivery(region, "2025-02", "telephony")
    above = math.floor(len(telephony.rows) * DEFAULT_MAX_SHARE) + 1
    corrupt_units(telephony, above)
    telephony.save()
    visits = region_delivery(region, "2025-02", "visits")
    visits.header[visits.col("contact_date")] = "kontaktdatum"
    visits.save()

    readers = start_readers(region.published, region.root / "readers")
    try:
        result = region.vardval("run", "--from", "2025-01", "--to", "2025-02")
    finally:
        outcomes = stop_readers(readers, region.root / "readers")
    (region.root / "run_output.txt").write_text(result.stdout + result.stderr)
    return FaultyRun(region, before, before_rows, statements_before, result, (below, len(listing.rows)),
                     (above, len(telephony.rows)), outcomes)


def region_delivery(region: Region, month: str, source: str) -> Delivery:
    return Delivery.load(region.landing / month / f"{source}.csv")


def test_a_blocked_month_fails_the_run_and_the_output_says_why(faulty_run):
    run = faulty_run
    assert run.result.returncode == 1, run.output[-4000:]
    below, _ = run.below
    above, rows = run.above
    share = f"{above / rows:.2%}"
    # the reasons, with the file, as the gate logs them in the command's progress feed
    assert re.search(r"2025-02 BLOCKED by deliveries_readable: visits\.csv: missing required column "
                     r"'contact_date' \(line 1\)", run.output), run.output[-4000:]
    assert re.search(rf"2025-02 BLOCKED by quarantine_within_limit: telephony\.csv: {above} of {rows:,} rows "
                     rf"quarantined \({re.escape(share)}, limit 0\.50%\)", run.output), run.output[-4000:]
    assert re.search(r"2025-02 visits: file_error .*visits\.csv: missing required column 'contact_date'",
                     run.output)
    assert re.search(r"2025-02 not published: 2025-02 was not published: 2 blocking check\(s\) failed", run.output)
    assert "2025-01 published as v2 (diff against v1)" in run.output
    # the summary: 2025-02 blocked with v1 kept, 2025-01 published as v2
    summary = run.output[run.output.index("Summary"):]
    assert re.search(r"2025-01 .*published v2", summary) and re.search(r"2025-02 .*blocked \(v1 kept\)", summary)


def test_a_blocked_month_keeps_its_published_version_byte_identical(faulty_run):
    run = faulty_run
    after = tree_digest(run.region.published)
    kept = published_files(run.before, "2025-02")
    assert kept and published_files(after, "2025-02") == kept       # versions, current Parquet, open data
    assert published_rows(run.region, "2025-02") == run.before_rows   # and its rows in published.duckdb
    catalog = json.loads((run.region.published / "catalog.json").read_text())
    assert catalog["months"]["2025-02"]["latest_version"] == 1
    assert not any(k.startswith("versions/2025-02/v0002") for k in after)
    assert not list(run.region.published.rglob("*.tmp")) and not list(run.region.published.rglob(".tmp-*"))


def test_quarantine_just_below_the_limit_publishes_and_reports_the_rows(faulty_run):
    run = faulty_run
    below, rows = run.below
    assert below / rows <= DEFAULT_MAX_SHARE < (below + 1) / rows
    catalog = json.loads((run.region.published / "catalog.json").read_text())
    assert catalog["months"]["2025-01"]["latest_version"] == 2
    assert (run.region.published / "versions" / "2025-01" / "v0002" / "diff_from_v0001.md").exists()
    for path in (run.region.published / "catalog.json", run.region.published / "versions/2025-01/v0002/manifest.json"):
        assert path.stat().st_mode & 0o044 == 0o044, f"{path.name} is not readable by BI readers"
    # v1 is kept, unchanged, next to v2
    assert published_files(tree_digest(run.region.published), "2025-01/v0001") == \
        published_files(run.before, "2025-01/v0001")
    quality = run.region.query(
        "select source_file, rows_read, rows_accepted, rows_quarantined, reason, reason_rows "
        "from data_quality_monthly where month = '2025-01' and source = 'listing'",
        run.region.published / "published.duckdb")
    assert quality == [("listing.csv", rows, rows - below, below, "unknown unit", below)]
    # every quarantined line is kept with file, line and reason in the warehouse
    kept = run.region.query("select count(distinct source_line) from raw.quarantine "
                            "where month = '2025-01' and source_file = 'listing.csv' and reason = 'unknown unit'")
    assert kept == [(below,)]


def test_quarantine_just_above_the_limit_blocks_naming_file_and_share(faulty_run):
    run = faulty_run
    above, rows = run.above
    assert above / rows > DEFAULT_MAX_SHARE
    records = [json.loads(p.read_text()) for p in (run.region.data / "checks" / "2025-02").glob("*.json")]
    latest = max(records, key=lambda r: r["recorded_at"])
    failed = {o["name"]: o["description"] for o in latest["outcomes"] if o["blocking"] and not o["passed"]}
    assert set(failed) == {"deliveries_readable", "quarantine_within_limit"}
    assert failed["quarantine_within_limit"] == \
        f"telephony.csv: {above} of {rows:,} rows quarantined ({above / rows:.2%}, limit 0.50%)"


def test_statements_of_a_blocked_month_are_not_rewritten(faulty_run):
    statements = tree_digest(faulty_run.region.data / "statements")
    assert published_files(statements, "2025-02") == published_files(faulty_run.statements_before, "2025-02")
    assert "2025-02 is not published: no statements or report for it" in faulty_run.output


def test_readers_during_a_publication_never_error_nor_see_a_mix(faulty_run):
    """SPEC §7: readers see a month's old version or its new one, never a mix, and never hold up
    a run (the run above published 2025-01 v2 with both readers attached)."""
    (code, report, err), (held_code, held, held_err) = faulty_run.readers
    assert code == 0 and not report["errors"], (report.get("errors"), err[-3000:])
    assert held_code == 0 and not held["errors"], (held.get("errors"), held_err[-3000:])
    assert report["loops"] >= 3 and held["loops"] >= 3
    # the re-opening reader saw the old and then the new version of 2025-01; the held
    # connection kept seeing the old one, whole
    assert report["versions_seen"] == {"2025-01": [1, 2], "2025-02": [1]}
    assert held["versions_seen"] == {"2025-01": [1], "2025-02": [1]}


def test_no_personnummer_in_any_output_of_a_run_with_bad_rows(faulty_run):
    """SPEC §4 after a full run with quarantined rows and file errors: warehouse, published files,
    statements, report, logs, check records, the Dagster event log and the command's output."""
    region = faulty_run.region
    # the scanner finds what it must: the landing files are full of personnummer
    assert personnummer_hits((region.landing / "2025-01" / "listing.csv").read_text()[:2000])
    hits, kinds = scan_outputs(region.data, region.root / "dagster_home",
                               {"vardval run output": faulty_run.output})
    assert {".duckdb", ".parquet", ".csv", ".json", ".xlsx", ".html", ".log", ".db"} <= set(kinds), kinds
    assert hits == {}, f"personnummer found in: {sorted(hits)}"


# --- a bad reimbursement model stops the whole run ------------------------------------------------

def test_model_with_a_gap_stops_the_run_and_keeps_everything_published(published_region, tmp_path):
    region = published_region.copy(tmp_path / "region")
    before = {k: v for k, v in tree_digest(region.published).items() if not k.endswith(".lock")}
    model = region.landing / "reference" / "reimbursement_model.yaml"
    model.write_text(model.read_text(encoding="utf-8").replace("valid_from: 2026-01-01", "valid_from: 2026-02-01"),
                     encoding="utf-8")
    result = region.vardval("run", "--from", "2025-01", "--to", "2025-02")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert re.search(r"reimbursement_model\.yaml: versions\[1\]\.valid_from: gap after versions\[0\]", output), \
        output[-4000:]
    # the summary's why is the failed reference step, not the checks on record from the last run
    summary = output[output.index("Summary"):]
    assert summary.count("reference_data failed: reimbursement_model.yaml") == 2, summary
    assert "published v" not in summary and "passed" not in summary, summary
    after = {k: v for k, v in tree_digest(region.published).items() if not k.endswith(".lock")}
    assert after == before


# --- what Dagster records: the run, its checks and each month's materialisations ---------------

@dataclass
class RecordedRun:
    run: object                                   # DagsterRun
    materialized: dict[str, dict[str, dict]]     # asset -> partition -> metadata values
    checks: dict[tuple[str, str], object]        # (check name, partition) -> AssetCheckEvaluation
    check_specs: dict[str, object]               # check name on publication/month_gate -> its spec


@pytest.fixture(scope="module")
def faulty_dagster_run(faulty_run) -> RecordedRun:
    import dagster as dg

    from orchestration.definitions import defs

    with dg.DagsterInstance.from_config(str(faulty_run.region.root / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        materialized: dict[str, dict[str, dict]] = {}
        for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                                   limit=10_000).records:
            event = record.event_log_entry.dagster_event.event_specific_data.materialization
            materialized.setdefault(event.asset_key.to_user_string(), {})[event.partition] = {
                k: getattr(v, "value", v) for k, v in event.metadata.items()}
        checks = {}
        for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                                   limit=10_000).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            checks[(evaluation.check_name, evaluation.partition)] = evaluation
    gate = defs.resolve_assets_def(dg.AssetKey(["publication", "month_gate"]))
    return RecordedRun(run, materialized, checks, {spec.name: spec for spec in gate.check_specs})


def test_a_blocked_month_is_a_failed_run_with_its_failing_checks_by_name(faulty_run, faulty_dagster_run):
    import dagster as dg

    recorded = faulty_dagster_run
    assert recorded.run.job_name == "monthly_job"
    assert recorded.run.status == dg.DagsterRunStatus.FAILURE
    # under its job in the UI (the run's code location is the workspace's)
    assert recorded.run.remote_job_origin.repository_origin.get_label() == "__repository__@vardval"
    for name in ("deliveries_readable", "quarantine_within_limit"):
        failed = recorded.checks[(name, "2025-02")]
        assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
        assert failed.blocking and recorded.check_specs[name].blocking
        assert failed.asset_key == dg.AssetKey(["publication", "month_gate"])
        passed = recorded.checks[(name, "2025-01")]
        assert passed.passed
    assert "telephony.csv" in recorded.checks[("quarantine_within_limit", "2025-02")].description
    assert "missing required column 'contact_date'" in recorded.checks[("deliveries_readable", "2025-02")].description
    # every other check of both months ran, each under its own name, and passed
    others = [name for name, spec in recorded.check_specs.items()
              if name not in ("deliveries_readable", "quarantine_within_limit") and spec.blocking]
    assert len(others) >= 15
    assert all(recorded.checks[(name, "2025-01")].passed for name in others)
    # every result of the gate's record shows in a check of its own name
    from orchestration.defs.publication.checks import undeclared
    from validations.outcome import CheckOutcome
    for month in ("2025-01", "2025-02"):
        records = [json.loads(p.read_text()) for p in (faulty_run.region.data / "checks" / month).glob("*.json")]
        latest = max(records, key=lambda r: r["recorded_at"])
        assert undeclared([CheckOutcome.from_dict(o) for o in latest["outcomes"]]) == []
    # the month's sample is something to act on: the quarantined rows, masked
    contract = recorded.checks[("telephony_contract", "2025-02")]
    assert not contract.passed and contract.metadata["masked_sample"].value


def test_nothing_downstream_of_the_blocked_month_materialises_the_others_do(faulty_dagster_run):
    materialized = faulty_dagster_run.materialized
    for asset in ("publication/month_gate", "publication/published_tables", "publication/statements",
                  "publication/monthly_report"):
        assert set(materialized[asset]) == {"2025-01"}, asset
    assert materialized["publication/month_gate"]["2025-01"]["check_record"].endswith(".json")
    assert materialized["publication/published_tables"]["2025-01"]["version"] == 2
    # upstream of the gate, both months were built
    assert set(materialized["raw/listing"]) == set(materialized["marts/reimbursement_monthly"]) == \
        {"2025-01", "2025-02"}


def test_each_partition_carries_its_own_metadata(faulty_run, faulty_dagster_run):
    materialized = faulty_dagster_run.materialized
    listing = materialized["raw/listing"]
    region = faulty_run.region
    for month in ("2025-01", "2025-02"):
        (accepted,) = region.query(f"select count(*) from raw.listing where month = '{month}'")[0]
        assert listing[month]["rows_accepted"] == accepted
    assert listing["2025-01"]["rows_quarantined"] == faulty_run.below[0]
    assert listing["2025-02"]["rows_quarantined"] == 0
    telephony = materialized["raw/telephony"]
    assert telephony["2025-02"]["rows_quarantined"] == faulty_run.above[0]
    assert telephony["2025-01"]["rows_quarantined"] == 0
    workbooks = len(list((region.data / "statements").rglob("*2025-01*.xlsx")))
    assert (region.data / "statements" / "2025" / "region_summary_2025.xlsx").is_file()
    workbooks += 1    # the region's yearly workbook, written with the month's statements
    assert materialized["publication/statements"]["2025-01"]["workbooks"] == workbooks > 0
