"""`vardval scenario`: the reimbursement under another model file, side by side with today's (SPEC §6, §10).

Runs the real command against a copy of the shared small region (tests/conftest.py): the
scenario recomputes through the dbt models on a private copy of the warehouse, so the
warehouse and published/ must come out byte for byte as they went in.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from orchestration.scenario import COMPONENTS, compare_monthly, summarise
from orchestration.scenario.compute import ScenarioResult
from orchestration.scenario.outputs import write_tables
from sources.reimbursement_model import load_model
from tests.pipeline_fixture import Region, tree_digest

MONTHS = ("2025-01", "2025-02")
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "sources" / "scenarios"


@pytest.fixture(scope="module")
def region(published_region, tmp_path_factory) -> Region:
    """A private copy of the shared two-month region (scenarios write under its data dir)."""
    return published_region.copy(tmp_path_factory.mktemp("scenario") / "region")


def _untouched_state(region: Region) -> dict:
    return {"published": tree_digest(region.published),
            "warehouse": hashlib.sha256(region.warehouse.read_bytes()).hexdigest()}


def _model_variant(region: Region, path: Path, change=None) -> Path:
    """The region's own current model (landing reference), optionally changed, written to path."""
    document = yaml.safe_load((region.landing / "reference" / "reimbursement_model.yaml").read_text("utf-8"))
    if change:
        change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _comparison(region: Region, scenario: str) -> pd.DataFrame:
    with duckdb.connect(str(region.data / "scenarios" / "scenarios.duckdb"), read_only=True) as con:
        return con.execute("select * from scenario_comparison where scenario = ?", [scenario]).df()


def _scenario(region: Region, model: Path, *months: str):
    return region.vardval("scenario", "--model", str(model), "--from", months[0], "--to", months[-1])


def test_identical_model_shows_no_difference_and_touches_nothing(region, tmp_path):
    before = _untouched_state(region)
    model = _model_variant(region, tmp_path / "same_as_today.yaml")
    result = _scenario(region, model, *MONTHS)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "budget-neutral" in result.stdout and "Winners (top 5): none" in result.stdout

    rows = _comparison(region, "same_as_today")
    vc_count = region.query("select count(distinct vardcentral_hsa_id) from marts.reimbursement_monthly "
                            "where month between '2025-01' and '2025-02'")[0][0]
    assert len(rows) == len(MONTHS) * vc_count * len(COMPONENTS)
    assert set(rows["component"]) == set(COMPONENTS)
    assert rows["diff_sek"].abs().max() < 1e-6
    assert (rows["current_sek"] - rows["scenario_sek"]).abs().max() < 1e-6
    # Today's side is the warehouse's own reimbursement_monthly.
    total = region.query("select sum(total) from marts.reimbursement_monthly where month between '2025-01' and '2025-02'")[0][0]
    assert rows.loc[rows["component"] == "total", "current_sek"].sum() == pytest.approx(total, abs=1e-6)

    assert _untouched_state(region) == before, "a scenario must not write the warehouse or published/"
    assert not list((region.data / "scenarios").glob(".work-*")), "the work copy is removed"
    _check_workbook(region.data / "scenarios" / "same_as_today_2025-01_2025-02.xlsx")


def test_doubling_one_rate_changes_that_component_only(region, tmp_path):
    before = _untouched_state(region)

    def double_sabo(document):
        for version in document["versions"]:
            version["sabo_sek_per_resident_month"] *= 2

    model = _model_variant(region, tmp_path / "double_sabo.yaml", double_sabo)
    result = _scenario(region, model, *MONTHS)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert _untouched_state(region) == before

    rows = _comparison(region, "double_sabo").set_index(["month", "vardcentral_hsa_id", "component"])
    diff = rows["diff_sek"].unstack("component")
    current = rows["current_sek"].unstack("component")
    owner = rows["owner_type"].unstack("component")["total"]
    assert current["sabo"].sum() > 0, "the fixture region needs SÄBO residents"
    # SÄBO doubles, everywhere.
    assert (diff["sabo"] - current["sabo"]).abs().max() < 1e-6
    # Nothing else moves, except VAT (private VCs: 2 % of the change) and the total.
    untouched = [c for c in COMPONENTS if c not in ("sabo", "vat_compensation", "total")]
    assert diff[untouched].abs().max().max() < 1e-6
    model_doc = load_model(model)
    vat_rate = model_doc.versions[0].vat_compensation_pct / 100.0
    expected_vat = diff["sabo"].where(owner == "privat", 0.0) * vat_rate
    assert (diff["vat_compensation"] - expected_vat).abs().max() < 1e-6
    assert (diff["total"] - diff["sabo"] - diff["vat_compensation"]).abs().max() < 1e-6
    assert (expected_vat[owner == "offentlig"] == 0).all()
    assert "Winners" in result.stdout and "Losers (top 5): none" in result.stdout


def test_invalid_model_exits_2_with_the_key_path(region, tmp_path):
    def overlap(document):
        document["versions"][0]["capitation"][2]["age_to"] = 45   # 20-45 overlaps 40-64

    model = _model_variant(region, tmp_path / "broken.yaml", overlap)
    result = _scenario(region, model, *MONTHS)
    assert result.returncode == 2
    assert "versions[0].capitation[2].age_to" in result.stdout
    assert "overlap" in result.stdout
    assert not (region.data / "scenarios" / "broken_2025-01_2025-02.xlsx").exists()


def test_months_not_built_exit_2_and_say_what_to_run(region, tmp_path):
    model = _model_variant(region, tmp_path / "later.yaml")
    result = _scenario(region, model, "2025-02", "2025-03")
    assert result.returncode == 2
    assert "2025-03" in result.stdout and "not built" in result.stdout
    assert "vardval run --from 2025-03" in result.stdout


def test_a_model_without_a_version_for_a_month_exits_2(region, tmp_path):
    def from_2026(document):
        document["versions"] = [document["versions"][-1]]
        document["versions"][0]["valid_from"] = "2026-01-01"

    model = _model_variant(region, tmp_path / "only_2026.yaml", from_2026)
    result = _scenario(region, model, *MONTHS)
    assert result.returncode == 2
    assert "no version is valid on 2025-01-01" in result.stdout


def _check_workbook(path: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    assert wb.sheetnames == ["Sammanfattning", "Per vårdcentral", "Per komponent", "Per månad", "Diagram"]
    per_vc = wb["Per vårdcentral"]
    assert per_vc.freeze_panes == "C2"
    assert [c.value for c in per_vc[1][:8]] == ["HSA-id", "Vårdcentral", "Driftform", "Listade (snitt)",
                                                "Nuvarande total", "Scenario total", "Skillnad kr", "Skillnad %"]
    assert per_vc["E2"].number_format == "#,##0" and "%" in per_vc["H2"].number_format
    assert len(wb["Diagram"]._charts) == 1
    components = [row[0].value for row in wb["Per komponent"].iter_rows(min_row=2)]
    assert components[0] == "Kapitering" and components[-1] == "Summa"


# --- the comparison and the BI tables without dbt ---------------------------------------------

def _result(name: str, current: list[dict], scenario: list[dict]) -> ScenarioResult:
    columns = ["month", "vardcentral_hsa_id", "owner_type", "model_version_id", "listed_count", *COMPONENTS]

    def frame(rows):
        out = pd.DataFrame(rows)
        for column in columns:
            if column not in out:
                out[column] = 0.0
        return out[columns]

    return ScenarioResult(
        name=name, model_path=Path(f"/x/{name}.yaml"), model_sha256="0" * 64, months=["2025-01", "2025-02"],
        warehouse_path=Path("/x/warehouse.duckdb"), current=frame(current), scenario=frame(scenario),
        units=pd.DataFrame({"hsa_id": ["A", "B"], "name": ["Vc A", "Vc B"], "owner_type": ["offentlig", "privat"]}),
        current_versions=pd.DataFrame({"month": ["2025-01"], "model_version_id": [1], "model_valid_from": ["2020-01-01"]}))


def test_summary_sums_months_and_the_region_and_percentages_follow_today():
    base = dict(owner_type="offentlig", model_version_id=1, listed_count=100)
    current = [dict(month=m, vardcentral_hsa_id="A", capitation=1000.0, start_grant=0.0, total=1000.0, **base)
               for m in ("2025-01", "2025-02")]
    scenario = [dict(month=m, vardcentral_hsa_id="A", capitation=900.0, start_grant=250.0, total=1150.0, **base)
                for m in ("2025-01", "2025-02")]
    summary = summarise(compare_monthly(_result("s", current, scenario))).set_index(
        ["vardcentral_hsa_id", "component"])
    assert summary.loc[("A", "capitation"), "diff_sek"] == pytest.approx(-200.0)
    assert summary.loc[("A", "capitation"), "diff_pct"] == pytest.approx(-10.0)
    assert pd.isna(summary.loc[("A", "start_grant"), "diff_pct"]), "no percentage of a zero base"
    assert summary.loc[("REGION", "total"), "diff_sek"] == pytest.approx(300.0)
    assert summary.loc[("REGION", "total"), "listed_count"] == 100, "mean over months, not a sum"


def test_a_rerun_replaces_its_own_rows_only(tmp_path):
    base = dict(owner_type="offentlig", model_version_id=1, listed_count=10)
    rows = [dict(month="2025-01", vardcentral_hsa_id="A", total=10.0, **base)]
    store = tmp_path / "scenarios.duckdb"
    for name in ("one", "two", "one"):
        result = _result(name, rows, rows)
        monthly = compare_monthly(result)
        write_tables(store, result, monthly, summarise(monthly), tmp_path / f"{name}.xlsx")
    with duckdb.connect(str(store), read_only=True) as con:
        counts = dict(con.execute("select scenario, count(*) from scenario_comparison group by 1").fetchall())
        runs = con.execute("select scenario from scenario_runs order by 1").fetchall()
    assert counts == {"one": len(COMPONENTS), "two": len(COMPONENTS)}
    assert runs == [("one",), ("two",)]


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_are_valid_and_cover_the_synthetic_months(path):
    from sources.reimbursement_model import version_for_month

    model = load_model(path)
    for month in ("2025-01", "2025-12", "2026-01"):
        version_for_month(model, month)
