"""The payment model as a region writes it (SPEC §3.5, §6, §10.1), on a configuration that is
not the shipped default: the reference files below go through the real loaders
(`load_reference`), the month's rows are inserted by hand, dbt builds March..May 2025, and
every figure is checked against the hand calculation written beside it.

Registry (vardcentraler.csv, with the optional column vat_compensation_pct)
  VA   vardcentral privat     vat_compensation_pct 4  (its own rate replaces the model's 2 %)
  VB   vardcentral privat     (the model's 2 %)
  VBF  filial of VB
  VC   vardcentral offentlig  vat_compensation_pct 4 is ignored: no VAT compensation for a public VC
  JOUR jour, DIGI digital

Model (one version from 2025-01-01): one capitation band 0+ at 1 200 SEK a year (100 a month);
ACG, CNI, geography, SÄBO, visit fees, start grant all 0; VAT 2 %;
visits_elsewhere_deduction_sek per performing unit type {vardcentral: 600, jour: 450, digital: 200};
one goal, lower is better: visits_elsewhere linear from 0.50 (0) down to 0.25 (1), 10 SEK per
listed and month; follow-up targets that pay nothing.

Listed every month: VA A1..A4, VB B1 B2, VC C1. Besök in April (all genomförda):
  A1 at VB, A2 at JOUR, A3 at DIGI, A4 x5 at VA   -> VA: 3 of 8 elsewhere = 0.375
  B1 at VA, B2 x2 at VBF (VB's own filial)         -> VB: 1 of 3 elsewhere = 1/3
Development grants, payout 2025-04: "Hälsa" (listed) 70 000 among VA, VB, VC (4, 2, 1 listed);
"Psykisk hälsa" (equal) 30 000 among VA and VB.
Extra assignments: VA KBT 12 000 a month 2025-04-01..2025-04-30 (April only);
VB ST-läkare 25 000 a month from 2025-03-15, open-ended (April and May: 1 March is before it).
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from core.settings import Settings
from core.vocabulary import COMPONENTS as REIMBURSEMENT_COMPONENTS
from orchestration.defs.sources.ingestion import load_reference
from sources.reading import SourceFileError
from sources.reimbursement_model import ModelValidationError, load_model
from tests.source_fixtures import write_csv
from tests.warehouse_fixture import FixtureWarehouse
from validations.contracts.reference import load_development_grants, load_extra_assignments, load_units

MONTHS = ("2025-03", "2025-04", "2025-05")
TOLERANCE = 0.01  # SEK per VC and month (SPEC §10)

UNIT_HEADER = ["hsa_id", "name", "unit_type", "parent_hsa_id", "owner_type", "provider_name",
               "municipality_code", "opened_on", "closed_on", "rural_tier", "listing_cap", "cap_from",
               "cap_to", "vat_compensation_pct"]
UNITS = [
    ["VA", "Vårdcentralen A", "vardcentral", "", "privat", "Bolag A", "0180", "2010-01-01", "", "0", "", "", "", "4"],
    ["VB", "Vårdcentralen B", "vardcentral", "", "privat", "Bolag B", "0180", "2010-01-01", "", "0", "", "", "", ""],
    ["VBF", "Filial B", "filial", "VB", "privat", "Bolag B", "0180", "2010-01-01", "", "0", "", "", "", ""],
    ["VC", "Vårdcentralen C", "vardcentral", "", "offentlig", "Regionen", "0180", "2010-01-01", "", "0", "", "", "",
     "4"],
    ["JOUR", "Jouren", "jour", "", "offentlig", "Regionen", "0180", "2010-01-01", "", "0", "", "", "", ""],
    ["DIGI", "Digitala", "digital", "", "privat", "Appen", "0180", "2010-01-01", "", "0", "", "", "", ""],
]

MODEL = {"versions": [{
    "valid_from": "2025-01-01", "valid_to": None,
    "capitation": [{"age_from": 0, "age_to": None, "female": 1200, "male": 1200}],
    "acg_sek_per_weight_year": 0, "cni_sek_per_listed_year": 0,
    "geography_sek_per_month": {0: 0, 1: 0, 2: 0, 3: 0},
    "sabo_sek_per_resident_month": 0,
    "visit_fees": [{"contact_type": "*", "profession": "*", "own_listed": 0, "other_listed": 0, "not_listed": 0}],
    "visits_elsewhere_deduction_sek": {"vardcentral": 600, "jour": 450, "digital": 200},
    "goals": [{"indicator": "visits_elsewhere", "profession": "all", "direction": "lower", "payout": "linear",
               "low": 0.50, "high": 0.25, "sek_per_listed_month": 10}],
    "follow_up_targets": [{"indicator": "fast_lakare_share", "profession": "all", "high": 0.80},
                          {"indicator": "listed_per_named_gp", "profession": "all", "direction": "lower",
                           "high": 1100}],
    "start_grant": {"sek_per_month": 0, "months": 0},
    "vat_compensation_pct": 2.0,
}]}

GRANT_HEADER = ["payout_month", "pot_sek", "hsa_id", "programme", "split"]
GRANTS = [["2025-04", "70000", "VA", "Hälsa", "listed"], ["2025-04", "70000", "VB", "Hälsa", ""],
          ["2025-04", "70000", "VC", "Hälsa", "listed"],
          ["2025-04", "30000", "VA", "Psykisk hälsa", "equal"], ["2025-04", "30000", "VB", "Psykisk hälsa", "equal"]]
EXTRA_HEADER = ["hsa_id", "assignment", "sek_per_month", "valid_from", "valid_to"]
EXTRA = [["VA", "KBT", "12000", "2025-04-01", "2025-04-30"], ["VB", "ST-läkare", "25000", "2025-03-15", ""]]

PERSONS = {"VA": ["A1", "A2", "A3", "A4"], "VB": ["B1", "B2"], "VC": ["C1"]}

# --------------------------------------------------------------------------------------------
# Hand calculation (every component not given is 0).
# April, VA: capitation 4 x 100 = 400; deduction -(600 at VB + 450 at JOUR + 200 at DIGI) = -1250;
#   goal: (0.375 - 0.50) / (0.25 - 0.50) = 0.5 -> 4 listed x 10 x 0.5 = 20;
#   extra assignments 12 000 (KBT); grants 70 000 x 4/7 = 40 000 + 30 000 / 2 = 15 000;
#   VAT: its own 4 % of 400 - 1250 + 20 + 12 000 + 55 000 = 66 170 -> 2 646.80.
# April, VB: capitation 200; deduction -600 (B1 at VA; B2 at its own filial is not elsewhere);
#   goal (1/3 - 0.50) / (0.25 - 0.50) = 2/3 -> 2 x 10 x 2/3 = 13.33; extra 25 000 (ST-läkare);
#   grants 70 000 x 2/7 = 20 000 + 15 000; VAT the model's 2 % of 59 613.33 = 1 192.27.
# April, VC: capitation 100; grant 70 000 x 1/7 = 10 000; public: no VAT; no visits -> goal 0.
# March and May: no visits -> no goal value -> 0; VA VAT 4 % of 400; VB from May pays ST-läkare.
VA_APRIL = dict(capitation=400, visits_elsewhere_deduction=-1250, goal_payment=20, extra_assignments=12000,
                development_grant=55000)
VB_APRIL = dict(capitation=200, visits_elsewhere_deduction=-600, goal_payment=2 * 10 * (2 / 3),
                extra_assignments=25000, development_grant=35000)
EXPECTED = {
    "2025-03": {"VA": dict(capitation=400, vat_compensation=16),
                "VB": dict(capitation=200, vat_compensation=4),
                "VC": dict(capitation=100)},
    "2025-04": {"VA": {**VA_APRIL, "vat_compensation": 0.04 * 66170},
                "VB": {**VB_APRIL, "vat_compensation": 0.02 * sum(VB_APRIL.values())},
                "VC": dict(capitation=100, development_grant=10000)},
    "2025-05": {"VA": dict(capitation=400, vat_compensation=16),
                "VB": dict(capitation=200, extra_assignments=25000, vat_compensation=0.02 * 25200),
                "VC": dict(capitation=100)},
}


def _listing(month: str, person: str, vc: str) -> dict:
    return dict(month=month, person_key=person, sex="female", birth_date=dt.date(1980, 1, 1), vardcentral_hsa_id=vc,
                listed_from=dt.date(2020, 1, 1), listing_type="aktiv", fast_lakare_hsa_id=None, is_sabo=False,
                deso=None, source_file="listing.csv", source_line=2)


def _besok(contact_id: str, person: str, unit: str) -> dict:
    return dict(month="2025-04", contact_id=contact_id, person_key=person, person_id_kind="personnummer",
                sex="female", birth_date=dt.date(1980, 1, 1), vardcentral_hsa_id=unit,
                contact_date=dt.date(2025, 4, 10), contact_type="besok", profession="lakare", staff_hsa_id="S1",
                status="genomford", is_new_problem=False, first_contact_date=None, is_patient_chose_later=False,
                source_file="visits.csv", source_line=2)


def _write_reference(landing: Path) -> None:
    ref = landing / "reference"
    write_csv(ref / "vardcentraler.csv", UNIT_HEADER, UNITS)
    write_csv(ref / "cni_areas.csv", ["deso", "year", "cni"], [["0180C1010", "2025", "1.0"]])
    write_csv(ref / "development_grants.csv", GRANT_HEADER, GRANTS)
    write_csv(ref / "extra_assignments.csv", EXTRA_HEADER, EXTRA)
    (ref / "reimbursement_model.yaml").write_text(yaml.safe_dump(MODEL, sort_keys=False, allow_unicode=True),
                                                  encoding="utf-8")


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> FixtureWarehouse:
    root = tmp_path_factory.mktemp("payment_model")
    landing, data = root / "landing", root / "data"
    _write_reference(landing)
    settings = Settings(landing_dir=landing, data_dir=data, min_cell=20, max_quarantine_share=0.005,
                        first_month="2025-03")
    key = os.environ.get("VARDVAL_PSEUDONYM_KEY")
    os.environ["VARDVAL_PSEUDONYM_KEY"] = "payment-model-test-key"
    try:
        assert load_reference(settings)["status"] == "loaded"
    finally:
        if key is None:
            os.environ.pop("VARDVAL_PSEUDONYM_KEY")
        else:
            os.environ["VARDVAL_PSEUDONYM_KEY"] = key
    w = FixtureWarehouse(data)
    w.insert("listing", [_listing(month, person, vc) for month in MONTHS
                         for vc, persons in PERSONS.items() for person in persons])
    w.insert("visits", [
        _besok("a1", "A1", "VB"), _besok("a2", "A2", "JOUR"), _besok("a3", "A3", "DIGI"),
        *[_besok(f"a4-{i}", "A4", "VA") for i in range(5)],
        _besok("b1", "B1", "VA"), _besok("b2-1", "B2", "VBF"), _besok("b2-2", "B2", "VBF"),
    ])
    w.dbt("run", month_from=MONTHS[0], month_to=MONTHS[-1])
    w.dbt("test", "--select", "path:models/intermediate/reimbursement", "path:models/marts/reimbursement",
          month_from=MONTHS[0], month_to=MONTHS[-1])
    return w


@pytest.fixture(scope="module")
def monthly(region) -> pd.DataFrame:
    return region.query("select * from marts.reimbursement_monthly order by month, vardcentral_hsa_id")


@pytest.mark.parametrize("month", MONTHS)
@pytest.mark.parametrize("vc", ["VA", "VB", "VC"])
def test_each_component_matches_the_hand_calculation(monthly, month, vc):
    row = monthly[(monthly["month"] == month) & (monthly["vardcentral_hsa_id"] == vc)].iloc[0]
    expected = EXPECTED[month][vc]
    for component in REIMBURSEMENT_COMPONENTS:
        assert row[component] == pytest.approx(expected.get(component, 0.0), abs=TOLERANCE), component
    assert row["total"] == pytest.approx(sum(expected.values()), abs=TOLERANCE)


def test_a_vc_with_its_own_vat_rate(monthly):
    april = monthly[monthly["month"] == "2025-04"].set_index("vardcentral_hsa_id")
    base = april["total"] - april["vat_compensation"]
    assert april.at["VA", "vat_compensation"] == pytest.approx(0.04 * base["VA"])    # the registry's 4 %
    assert april.at["VB", "vat_compensation"] == pytest.approx(0.02 * base["VB"])    # the model's 2 %
    assert april.at["VC", "vat_compensation"] == 0                                   # public
    assert base["VA"] == pytest.approx(66170)   # extra assignments and grants are in the VAT base


def test_deduction_is_priced_by_the_performing_unit_type(region):
    rows = region.query("select vardcentral_hsa_id, performing_unit_type, visits_elsewhere_count, sek_per_visit, "
                        "amount from intermediate.reimbursement__int_visits_elsewhere_counted "
                        "order by vardcentral_hsa_id, performing_unit_type")
    assert list(rows.itertuples(index=False, name=None)) == [
        ("VA", "digital", 1, 200.0, -200.0), ("VA", "jour", 1, 450.0, -450.0),
        ("VA", "vardcentral", 1, 600.0, -600.0), ("VB", "vardcentral", 1, 600.0, -600.0)]


def test_lower_is_better_goal(region):
    goals = region.query("select vardcentral_hsa_id, direction, indicator_value, fulfilment, amount "
                         "from marts.reimbursement_goals_monthly where month = '2025-04' order by 1")
    assert list(goals["direction"]) == ["lower"] * 3
    assert list(goals["indicator_value"][:2]) == pytest.approx([3 / 8, 1 / 3])
    assert list(goals["fulfilment"][:2]) == pytest.approx([0.5, 2 / 3])
    assert list(goals["amount"]) == pytest.approx([20, 2 * 10 * 2 / 3, 0])
    assert pd.isna(goals["indicator_value"].iloc[2])    # VC: no besök, no value


def test_two_programmes_in_one_month(region):
    grants = region.query("select vardcentral_hsa_id, programme, split, pot_sek, participant_count, amount "
                          "from marts.reimbursement_development_grants_monthly order by programme, 1")
    assert list(grants.itertuples(index=False, name=None)) == [
        ("VA", "Hälsa", "listed", 70000.0, 3, pytest.approx(40000)),
        ("VB", "Hälsa", "listed", 70000.0, 3, pytest.approx(20000)),   # a blank split is 'listed'
        ("VC", "Hälsa", "listed", 70000.0, 3, pytest.approx(10000)),
        ("VA", "Psykisk hälsa", "equal", 30000.0, 2, pytest.approx(15000)),
        ("VB", "Psykisk hälsa", "equal", 30000.0, 2, pytest.approx(15000))]
    assert set(grants["vardcentral_hsa_id"]) and set(region.query(
        "select distinct month from marts.reimbursement_development_grants_monthly")["month"]) == {"2025-04"}


def test_extra_assignment_valid_for_part_of_the_range(region):
    rows = region.query("select month, vardcentral_hsa_id, assignment, amount "
                        "from marts.reimbursement_extra_assignments_monthly order by 1, 2")
    assert list(rows.itertuples(index=False, name=None)) == [
        ("2025-04", "VA", "KBT", 12000.0), ("2025-04", "VB", "ST-läkare", 25000.0),
        ("2025-05", "VB", "ST-läkare", 25000.0)]


def test_follow_up_targets_are_stored_and_pay_nothing(region, monthly):
    targets = region.query("select indicator, profession, direction, low is null as without_low, high "
                           "from staging.stg_model__follow_up_targets order by target_order")
    assert list(targets.itertuples(index=False, name=None)) == [
        ("fast_lakare_share", "all", "higher", True, 0.8), ("listed_per_named_gp", "all", "lower", True, 1100.0)]
    goals = region.query("select distinct indicator from marts.reimbursement_goals_monthly")
    assert list(goals["indicator"]) == ["visits_elsewhere"]


def test_statement_shows_extra_assignments_programmes_and_vat_rate(region, tmp_path):
    from openpyxl import load_workbook

    from orchestration.defs.publication.statements import write_statements
    from tests.test_statements import read_statement, spec_of

    written = write_statements(region.path, "2025-04", tmp_path)
    statement = read_statement(next(p for p in written if p.name.endswith("_VA.xlsx")))
    summary = statement["summary"]
    assert summary["Tilläggsuppdrag"]["Belopp"] == pytest.approx(12000)
    assert "KBT" in summary["Tilläggsuppdrag"]["text"] and summary["Tilläggsuppdrag"]["Sats"] == pytest.approx(12000)
    programmes = spec_of(statement, "Utvecklingsmedel")
    health = next(line for line in programmes if line["label"] == "Hälsa")
    assert health["Sats"] == pytest.approx(70000) and any("delad lika" in line["text"] for line in programmes)
    assert summary["Momskompensation"]["Sats"] == pytest.approx(0.04)
    deductions = spec_of(statement, "Avdrag för besök på annan enhet")
    assert sorted(line["Sats"] for line in deductions) == [-600, -450, -200]
    summary_sheet = load_workbook(next(p for p in written if p.name.startswith("region_summary")))
    header = next(r for r in summary_sheet.active.iter_rows(values_only=True) if r[0] == "HSA-id")
    assert "Tilläggsuppdrag" in header


# --------------------------------------------------------------------------------------------
# Bad configuration: each a clear error naming file, line and column or the model's key path.


def _model_error(tmp_path: Path, change) -> str:
    document = yaml.safe_load(yaml.safe_dump(MODEL))
    change(document["versions"][0])
    path = tmp_path / "reimbursement_model.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ModelValidationError) as caught:
        load_model(path)
    return str(caught.value)


def test_the_model_loads_with_its_per_type_deduction_and_targets(tmp_path):
    path = tmp_path / "reimbursement_model.yaml"
    path.write_text(yaml.safe_dump(MODEL), encoding="utf-8")
    version = load_model(path).versions[0]
    assert version.deduction_per_unit_type() == {"vardcentral": 600, "jour": 450, "digital": 200}
    assert [t.direction for t in version.follow_up_targets] == ["higher", "lower"]


def test_a_lower_goal_needs_low_above_high(tmp_path):
    def swap(version):
        version["goals"][0].update(low=0.25, high=0.50)
    assert ("reimbursement_model.yaml: versions[0].goals[0].low: low 0.25 must be above high 0.5 "
            "(direction lower: low > high)") in _model_error(tmp_path, swap)


def test_a_higher_goal_needs_low_below_high(tmp_path):
    def higher(version):
        version["goals"][0]["direction"] = "higher"
    assert ("versions[0].goals[0].low: low 0.5 must be below high 0.25 (direction higher: low < high)"
            in _model_error(tmp_path, higher))


def test_a_follow_up_target_is_validated_too(tmp_path):
    def bad(version):
        version["follow_up_targets"][0].update(indicator="fast_lakare", low=0.9)
    message = _model_error(tmp_path, bad)
    assert "versions[0].follow_up_targets[0].indicator: unknown indicator 'fast_lakare'" in message
    assert "versions[0].follow_up_targets[0].low: low 0.9 must be below high 0.8" in message


def test_a_deduction_per_unit_type_must_name_all_three(tmp_path):
    def two_types(version):
        del version["visits_elsewhere_deduction_sek"]["digital"]
    assert ("versions[0].visits_elsewhere_deduction_sek: unit type digital is missing"
            in _model_error(tmp_path, two_types))

    def unknown_type(version):
        version["visits_elsewhere_deduction_sek"]["filial"] = 100
    assert ("versions[0].visits_elsewhere_deduction_sek.filial: unknown unit type"
            in _model_error(tmp_path, unknown_type))


def test_vat_compensation_pct_outside_0_to_25(tmp_path):
    rows = [list(r) for r in UNITS]
    rows[1][-1] = "30"
    path = write_csv(tmp_path / "vardcentraler.csv", UNIT_HEADER, rows)
    with pytest.raises(SourceFileError) as caught:
        load_units(path)
    assert ("vardcentraler.csv: 1 invalid row, first line 3, column vat_compensation_pct: "
            "vat_compensation_pct 30 is outside 0-25") in str(caught.value)


def test_registry_without_the_vat_column_uses_the_models_rate(tmp_path):
    path = write_csv(tmp_path / "vardcentraler.csv", UNIT_HEADER[:-1], [r[:-1] for r in UNITS])
    assert load_units(path)["vat_compensation_pct"].isna().all()


def test_programme_rows_that_disagree(tmp_path):
    units = load_units(write_csv(tmp_path / "vardcentraler.csv", UNIT_HEADER, UNITS))
    rows = [list(r) for r in GRANTS]
    rows[1][1] = "80000"        # line 3: another pot for Hälsa
    rows[4][4] = "listed"       # line 6: another split for Psykisk hälsa
    path = write_csv(tmp_path / "development_grants.csv", GRANT_HEADER, rows)
    with pytest.raises(SourceFileError) as caught:
        load_development_grants(path, units)
    message = str(caught.value)
    assert message.startswith("development_grants.csv: 5 invalid rows")
    assert ("line 3, column pot_sek: rows of one programme and payout_month must agree: pot_sek differs "
            "between lines 2, 3, 4 (payout_month '2025-04', programme 'Hälsa')") in message
    assert ("line 6, column split: rows of one programme and payout_month must agree: split differs "
            "between lines 5, 6 (payout_month '2025-04', programme 'Psykisk hälsa')") in message


def test_an_extra_assignment_or_grant_for_a_filial(tmp_path):
    units = load_units(write_csv(tmp_path / "vardcentraler.csv", UNIT_HEADER, UNITS))
    extra = write_csv(tmp_path / "extra_assignments.csv", EXTRA_HEADER,
                      [*EXTRA, ["VBF", "KBT", "5000", "2025-01-01", ""], ["NOPE", "KBT", "5000", "2025-01-01", ""]])
    with pytest.raises(SourceFileError) as caught:
        load_extra_assignments(extra, units)
    message = str(caught.value)
    assert "line 4, column hsa_id: VBF is a filial, not a vardcentral" in message
    assert "line 5, column hsa_id: NOPE is not a unit in the registry" in message
    grants = write_csv(tmp_path / "development_grants.csv", GRANT_HEADER,
                       [["2025-04", "1000", "JOUR", "", ""]])
    with pytest.raises(SourceFileError, match="line 2, column hsa_id: JOUR is a jour, not a vardcentral"):
        load_development_grants(grants, units)


def test_scenario_compares_the_new_components(region, tmp_path):
    """A scenario with another jour deduction and VAT rate: the registry's own VAT rate still
    applies to VA; extra assignments are a compared component like the others."""
    from orchestration.scenario import compare_monthly, compute_scenario

    document = yaml.safe_load(yaml.safe_dump(MODEL))
    document["versions"][0]["visits_elsewhere_deduction_sek"]["jour"] = 900
    document["versions"][0]["vat_compensation_pct"] = 3.0
    model = tmp_path / "jour_900.yaml"
    model.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    settings = Settings(landing_dir=tmp_path, data_dir=region.data_dir, min_cell=20, max_quarantine_share=0.005,
                        first_month="2025-03")
    result = compute_scenario(model, "2025-04", "2025-04", settings, tmp_path / "logs", say=lambda *_: None)
    diff = compare_monthly(result).set_index(["vardcentral_hsa_id", "component"])["diff_sek"]
    assert diff[("VA", "visits_elsewhere_deduction")] == pytest.approx(-450)        # one jour visit, 450 -> 900
    assert diff[("VA", "vat_compensation")] == pytest.approx(0.04 * -450)          # still its own 4 %
    assert diff[("VB", "visits_elsewhere_deduction")] == pytest.approx(0)
    assert diff[("VB", "vat_compensation")] == pytest.approx(0.01 * sum(VB_APRIL.values()))   # 2 % -> 3 %
    assert diff[("VA", "extra_assignments")] == 0 and diff[("VB", "extra_assignments")] == 0
    assert diff[("VC", "total")] == pytest.approx(0)
