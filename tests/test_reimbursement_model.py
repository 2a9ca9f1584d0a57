"""The reimbursement model file (SPEC §10.1): the example loads; each defect names file and key path."""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from core.warehouse import connect, ensure_schema
from sources.reimbursement_model import ModelValidationError, load_model, model_tables, version_for_month

EXAMPLE = Path(__file__).parent / "fixtures" / "models" / "reimbursement_model.yaml"


@pytest.fixture
def document() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def _load(tmp_path: Path, document: dict):
    path = tmp_path / "reimbursement_model.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_model(path)


def _error(tmp_path: Path, document: dict) -> str:
    with pytest.raises(ModelValidationError) as caught:
        _load(tmp_path, document)
    return str(caught.value)


def test_the_example_loads_with_two_versions():
    model = load_model(EXAMPLE)
    assert [v.version_id for v in model.versions] == [1, 2]
    assert model.versions[0].valid_to == dt.date(2025, 1, 31)
    assert model.versions[1].valid_to is None
    assert model.versions[0].capitation[-1].age_to is None
    assert model.versions[0].geography_sek_per_month == {0: 0, 1: 20000, 2: 45000, 3: 90000}


def test_version_for_month_uses_the_first_day():
    model = load_model(EXAMPLE)
    assert version_for_month(model, "2025-01").version_id == 1
    assert version_for_month(model, "2025-02").version_id == 2
    assert version_for_month(model, "2031-06").version_id == 2
    with pytest.raises(LookupError, match="2023-12-01"):
        version_for_month(model, "2023-12")


def test_model_tables_fit_the_raw_ddl(tmp_path):
    frames = model_tables(load_model(EXAMPLE))
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        for table, frame in frames.items():
            columns = [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
            assert list(frame.columns) == columns, table
            con.register("frame", frame)
            con.execute(f"insert into raw.{table} select * from frame")
            con.unregister("frame")
        versions = con.execute("select version_id, valid_from, valid_to from raw.model_versions order by 1").fetchall()
        assert versions == [(1, dt.date(2024, 1, 1), dt.date(2025, 1, 31)), (2, dt.date(2025, 2, 1), None)]
        assert con.execute("select count(*) from raw.model_capitation where age_to is null").fetchone() == (2,)
        rules = con.execute("select rule_order, contact_type, profession from raw.model_visit_fees "
                            "where version_id = 2 order by 1").fetchall()
        assert rules == [(1, "besok", "lakare"), (2, "*", "lakare"), (3, "*", "*")]
        goals = con.execute("select goal_order, payout, low, high from raw.model_goals where version_id = 1 order by 1").fetchall()
        assert goals == [(1, "all_or_nothing", None, 0.9), (2, "linear", 0.7, 0.9)]
        assert con.execute("select count(*) from raw.model_geography").fetchone() == (8,)


def test_missing_key(tmp_path, document):
    del document["versions"][0]["acg_sek_per_weight_year"]
    assert ("reimbursement_model.yaml: versions[0].acg_sek_per_weight_year: required key is missing"
            in _error(tmp_path, document))


def test_unknown_key(tmp_path, document):
    document["versions"][1]["capitation"][0]["other"] = 1
    assert "reimbursement_model.yaml: versions[1].capitation[0].other: unknown key" in _error(tmp_path, document)


def test_wrong_type(tmp_path, document):
    document["versions"][0]["capitation"][3]["male"] = "2300 kr"
    message = _error(tmp_path, document)
    assert "reimbursement_model.yaml: versions[0].capitation[3].male:" in message
    assert "2300 kr" in message


def test_band_overlap(tmp_path, document):
    document["versions"][1]["capitation"][3]["age_from"] = 35
    assert ("reimbursement_model.yaml: versions[1].capitation[2].age_to: bands 20-39 and 35-64 overlap at age 35"
            in _error(tmp_path, document))


def test_band_gap(tmp_path, document):
    document["versions"][0]["capitation"][1]["age_from"] = 8
    assert ("reimbursement_model.yaml: versions[0].capitation[0].age_to: bands 0-6 and 8-19 leave age 7 uncovered"
            in _error(tmp_path, document))


def test_last_band_must_be_open_ended(tmp_path, document):
    document["versions"][0]["capitation"][6]["age_to"] = 110
    assert "versions[0].capitation[6].age_to: ages above 110 are not covered" in _error(tmp_path, document)


def test_version_gap(tmp_path, document):
    document["versions"][1]["valid_from"] = dt.date(2025, 3, 1)
    assert ("reimbursement_model.yaml: versions[1].valid_from: gap after versions[0]: no version is valid "
            "2025-02-01..2025-02-28" in _error(tmp_path, document))


def test_version_overlap(tmp_path, document):
    document["versions"][1]["valid_from"] = dt.date(2025, 1, 15)
    assert ("reimbursement_model.yaml: versions[1].valid_from: overlaps versions[0] (2024-01-01..2025-01-31) "
            "from 2025-01-15" in _error(tmp_path, document))


def test_versions_change_on_month_boundaries(tmp_path, document):
    document["versions"][0]["valid_to"] = dt.date(2025, 1, 14)
    document["versions"][1]["valid_from"] = dt.date(2025, 1, 15)
    message = _error(tmp_path, document)
    assert "versions[0].valid_to: 2025-01-14 is not the last day of a month" in message
    assert "versions[1].valid_from: 2025-01-15 is not the first day of a month" in message


def test_only_the_last_version_may_be_open_ended(tmp_path, document):
    document["versions"][0]["valid_to"] = None
    assert "versions[0].valid_to: only the last version may be open-ended" in _error(tmp_path, document)


def test_versions_must_be_sorted(tmp_path, document):
    document["versions"].reverse()
    document["versions"][0]["valid_to"] = dt.date(2025, 12, 31)
    assert "versions[1].valid_from: versions must be sorted by valid_from" in _error(tmp_path, document)


def test_unknown_goal_indicator(tmp_path, document):
    document["versions"][1]["goals"][0]["indicator"] = "phone_answer_share"
    assert ("reimbursement_model.yaml: versions[1].goals[0].indicator: unknown indicator 'phone_answer_share'"
            in _error(tmp_path, document))


def test_linear_goal_without_low(tmp_path, document):
    del document["versions"][0]["goals"][1]["low"]
    assert ("reimbursement_model.yaml: versions[0].goals[1].low: required key is missing (a linear goal needs low < high)"
            in _error(tmp_path, document))


def test_linear_goal_with_low_not_below_high(tmp_path, document):
    document["versions"][0]["goals"][1]["low"] = 0.95
    assert "versions[0].goals[1].low: low 0.95 must be below high 0.9" in _error(tmp_path, document)


def test_goal_profession_and_payout(tmp_path, document):
    document["versions"][0]["goals"][0]["profession"] = "lakare"     # phone is not split by profession
    document["versions"][1]["goals"][1]["profession"] = "ovrig"      # not a licensed profession
    document["versions"][1]["goals"][0]["payout"] = "stepwise"
    message = _error(tmp_path, document)
    assert "versions[1].goals[1].profession:" in message
    assert "versions[1].goals[0].payout:" in message
    document["versions"][1]["goals"][1]["profession"] = "lakare"
    document["versions"][1]["goals"][0]["payout"] = "all_or_nothing"
    assert "versions[0].goals[0].profession: phone_same_day_share is not split by profession" in _error(tmp_path, document)


def test_geography_needs_tiers_0_to_3(tmp_path, document):
    del document["versions"][0]["geography_sek_per_month"][3]
    document["versions"][1]["geography_sek_per_month"][4] = 1
    message = _error(tmp_path, document)
    assert "versions[0].geography_sek_per_month: tier 3 is missing" in message
    assert "versions[1].geography_sek_per_month.4: unknown rural tier" in message


def test_visit_fee_values_and_catch_all(tmp_path, document):
    bad = copy.deepcopy(document)
    bad["versions"][0]["visit_fees"][0]["contact_type"] = "besoek"
    assert "versions[0].visit_fees[0].contact_type:" in _error(tmp_path, bad)
    bad = copy.deepcopy(document)
    bad["versions"][0]["visit_fees"].pop()
    assert ("versions[0].visit_fees[0]: the last rule must match every contact" in _error(tmp_path, bad))
    bad = copy.deepcopy(document)
    bad["versions"][1]["visit_fees"].insert(0, {"contact_type": "*", "profession": "lakare", "own_listed": 0,
                                                "other_listed": 1, "not_listed": 1})
    assert ("versions[1].visit_fees[1]: rule (besok, lakare) never applies: visit_fees[0] (*, lakare) matches first"
            in _error(tmp_path, bad))


def test_not_a_mapping_and_not_yaml(tmp_path):
    path = tmp_path / "reimbursement_model.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ModelValidationError, match="reimbursement_model.yaml: expected a mapping"):
        load_model(path)
    path.write_text("versions: [\n", encoding="utf-8")
    with pytest.raises(ModelValidationError, match="reimbursement_model.yaml: not valid YAML"):
        load_model(path)


def test_one_tolerance_for_components_summing_to_the_total():
    from sources.reimbursement_model import AMOUNT_TOLERANCE_SEK

    project = yaml.safe_load((Path(__file__).resolve().parents[1] / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["amount_tolerance_sek"] == AMOUNT_TOLERANCE_SEK


def test_goals_refer_to_the_catalogues_codes(tmp_path):
    from core import indicator_catalogue

    assert "continuity_doctor" in indicator_catalogue.codes(value_kind="mean")
    assert set(indicator_catalogue.codes(is_split_by_profession=True)) == {
        "assessment_0d_share", "assessment_3d_share", "assessment_7d_share"}
    with connect(tmp_path / "w.duckdb") as con:   # the warehouse holds the same catalogue
        ensure_schema(con)
        codes = [c for (c,) in con.execute("select indicator_code from raw.indicator_catalogue order by sort_order")
                 .fetchall()]
    assert tuple(codes) == indicator_catalogue.codes()
