"""Checks on the marts: GE suites and SQL reconciliations, on the hand-made fixture (no dbt)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from core.warehouse import connect
from tests.marts_fixture import VC_B, VC_C, build_marts_warehouse, execute
from validations.expectations import run_month_checks
from validations.outcome import CheckOutcome
from validations.reconciliations import run_reconciliations

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return build_marts_warehouse(tmp_path_factory.mktemp("good"))


def _broken(tmp_path: Path, good: Path, *sql: str) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(good, path)
    execute(path, *sql)
    return path


def _reconcile(path: Path, month: str = "2025-02", **kwargs) -> list[CheckOutcome]:
    """The SQL reconciliations alone (fast: no Great Expectations)."""
    with connect(path, read_only=True) as con:
        return run_reconciliations(con, month, **kwargs)


def _by_name(outcomes: list[CheckOutcome]) -> dict[str, CheckOutcome]:
    return {o.name: o for o in outcomes}


def _failed_blocking(outcomes):
    return {o.name for o in outcomes if o.blocking and not o.passed}


@pytest.fixture(scope="module")
def good_outcomes(good):
    return run_month_checks(good, "2025-02", previous_month="2025-01")


def test_good_fixture_passes_every_check(good, good_outcomes):
    assert _failed_blocking(good_outcomes) == set(), [o.description for o in good_outcomes if not o.passed]
    assert all(o.passed for o in good_outcomes)
    names = _by_name(good_outcomes)
    for required in ("components_sum_to_total", "person_rows_sum_to_vc_rows", "listed_count_matches_listing",
                     "shares_within_unit_interval", "open_vc_has_reimbursement_row", "listed_count_plausible"):
        assert required in names
    assert any(n.startswith("ge:reimbursement_person_monthly_sample") for n in names)
    assert any(n.startswith("ge:indicators_monthly_shares") for n in names)
    assert _failed_blocking(_reconcile(good, "2025-01")) == set()


def test_components_not_summing_fails_that_check(tmp_path, good):
    path = _broken(tmp_path, good, f"update marts.reimbursement_monthly set total = total + 100 "
                                   f"where month = '2025-02' and vardcentral_hsa_id = '{VC_B}'")
    outcomes = _reconcile(path)
    failed = _failed_blocking(outcomes)
    assert "components_sum_to_total" in failed
    check = _by_name(outcomes)["components_sum_to_total"]
    assert VC_B in check.description and "difference" in check.description
    assert check.metadata["vcs_failing"] == 1


def test_share_above_one_and_duplicate_person_fail_their_checks_without_leaking_keys(tmp_path, good):
    path = _broken(tmp_path, good, f"update marts.indicators_monthly set value = 1.2, numerator = 12, denominator = 10 "
                                   f"where month = '2025-02' and vardcentral_hsa_id = '{VC_C}' "
                                   f"and indicator_code = 'fast_lakare_share' and sex = 'all'",
                   "insert into marts.reimbursement_person_monthly "
                   "select * from marts.reimbursement_person_monthly where month = '2025-02' "
                   "order by person_key limit 1")
    outcomes = run_month_checks(path, "2025-02")
    failed = _failed_blocking(outcomes)
    assert "shares_within_unit_interval" in failed
    assert "ge:indicators_monthly_shares:expect_column_values_to_be_between:value" in failed
    check = _by_name(outcomes)["shares_within_unit_interval"]
    assert VC_C in check.description and "fast_lakare_share" in check.description
    # The suite passes or fails as a whole first; a failing suite is validated again for
    # the counts and samples of its failures.
    ge_share = _by_name(outcomes)["ge:indicators_monthly_shares:expect_column_values_to_be_between:value"]
    assert ge_share.metadata["unexpected"] == 1 and ge_share.description.count(VC_C) == 1
    assert _by_name(outcomes)["ge:indicators_monthly_shares:expect_column_values_to_be_in_set:sex"].passed
    assert "components_sum_to_total" not in failed
    assert "person_key_unique" in failed
    assert "ge:reimbursement_person_monthly_sample:expect_compound_columns_to_be_unique:month+person_key" in failed
    dumped = json.dumps([o.to_dict() for o in outcomes])
    assert not HEX64.search(dumped), "a person_key leaked into check metadata"


def test_missing_vc_row_fails_that_check(tmp_path, good):
    path = _broken(tmp_path, good, f"delete from marts.reimbursement_monthly "
                                   f"where month = '2025-02' and vardcentral_hsa_id = '{VC_C}'")
    outcomes = _reconcile(path)
    failed = _failed_blocking(outcomes)
    assert "open_vc_has_reimbursement_row" in failed
    assert VC_C in _by_name(outcomes)["open_vc_has_reimbursement_row"].description
    assert "components_sum_to_total" not in failed


def test_listed_counts_and_person_rows_reconcile_exhaustively(tmp_path, good):
    path = _broken(tmp_path, good,
                   "delete from raw.listing where month = '2025-02' and source_line = 3",
                   "update marts.reimbursement_person_monthly set capitation = capitation + 1 "
                   "where month = '2025-02' and age = (select max(age) from marts.reimbursement_person_monthly)")
    failed = _failed_blocking(_reconcile(path))
    assert {"listed_count_matches_listing", "person_rows_sum_to_vc_rows"} <= failed


def test_an_open_vc_with_no_one_listed_needs_no_person_rows(tmp_path, good):
    """A VC in its closing month, its listed moved elsewhere: a VC row with 0 listed, no person rows."""
    path = _broken(tmp_path, good,
                   f"delete from marts.reimbursement_person_monthly where month = '2025-02' and vardcentral_hsa_id = '{VC_B}'",
                   f"update marts.reimbursement_monthly set total = total - capitation - acg - cni - sabo, listed_count = 0, "
                   f"capitation = 0, acg = 0, cni = 0, sabo = 0 where month = '2025-02' and vardcentral_hsa_id = '{VC_B}'")
    assert _by_name(_reconcile(path))["person_rows_sum_to_vc_rows"].passed


def test_plausibility_is_a_warning_not_blocking(good):
    outcomes = _reconcile(good, previous_month="2025-01", plausibility_share=0.05)
    check = _by_name(outcomes)["listed_count_plausible"]
    assert not check.passed and not check.blocking
    assert VC_B in check.description and "8 → 9" in check.description
    assert _failed_blocking(outcomes) == set()


def test_outcomes_are_json_and_carry_no_person_key(good_outcomes):
    dumped = json.dumps([o.to_dict() for o in good_outcomes])
    assert not HEX64.search(dumped)
    assert all(o.description.endswith(".") for o in good_outcomes)


def test_a_range_is_validated_together_and_a_failure_names_its_month(tmp_path, good, good_outcomes):
    from validations.expectations import run_range_checks

    together = run_range_checks(good, ["2025-01", "2025-02"])
    # The joint validation restates each month's outcomes exactly as a check of that month alone.
    assert [(o.name, o.passed, o.description) for o in together["2025-02"]] == \
        [(o.name, o.passed, o.description) for o in good_outcomes]
    assert all(o.passed for o in together["2025-01"])

    path = _broken(tmp_path, good, f"update marts.indicators_monthly set value = 1.2, numerator = 12, denominator = 10 "
                                   f"where month = '2025-02' and vardcentral_hsa_id = '{VC_C}' "
                                   f"and indicator_code = 'fast_lakare_share' and sex = 'all'")
    broken = run_range_checks(path, ["2025-01", "2025-02"])
    rule = "ge:indicators_monthly_shares:expect_column_values_to_be_between:value"
    assert rule in _failed_blocking(broken["2025-02"])
    assert "2025-02" in _by_name(broken["2025-02"])[rule].description
    assert _failed_blocking(broken["2025-01"]) == set()


# --- a configuration that is not the default ------------------------------------------------

OTHER_BANDS = [(0, 5), (6, 19), (20, 39), (40, 64), (65, 79), (80, None)]


def _with_other_bands_from_february(tmp_path: Path, good: Path) -> Path:
    """The fixture with a model version 2 from 2025-02 whose capitation bands are not the
    default ones, and February's person rows paid by it (capitation_band relabelled by age)."""
    whens = []
    for a, b in OTHER_BANDS:
        whens.append(f"when age between {a} and {b} then '{a}-{b}'" if b is not None
                     else f"when age >= {a} then '{a}+'")
    band_case = "case " + " ".join(whens) + " end"
    rows = ", ".join(f"(2, {a}, {'null' if b is None else b}, 1000.0, 1000.0)" for a, b in OTHER_BANDS)
    return _broken(
        tmp_path, good,
        "update raw.model_versions set valid_to = date '2025-01-31'",
        "insert into raw.model_versions select 2, date '2025-02-01', null, acg_sek_per_weight_year, "
        "cni_sek_per_listed_year, sabo_sek_per_resident_month, "
        "start_grant_sek_per_month, start_grant_months, vat_compensation_pct from raw.model_versions",
        "insert into raw.model_deductions select 2, unit_type, sek_per_visit from raw.model_deductions",
        f"insert into raw.model_capitation values {rows}",
        f"update marts.reimbursement_person_monthly set capitation_band = {band_case} where month = '2025-02'")


def test_expected_values_come_from_the_months_model_version_and_catalogue(tmp_path, good):
    from core import indicator_catalogue
    from validations.expectations.expected import expected_for_month
    from validations.expectations.suites import reimbursement_person_sample

    path = _with_other_bands_from_february(tmp_path, good)
    with connect(path, read_only=True) as con:
        january, february = expected_for_month(con, "2025-01"), expected_for_month(con, "2025-02")
    assert january.capitation_bands == ("0-6", "7-19", "20-39", "40-64", "65-74", "75-84", "85+")
    assert february.capitation_bands == ("0-5", "6-19", "20-39", "40-64", "65-79", "80+")
    assert february.reporting_age_bands == january.capitation_bands   # fixed, whatever the model pays by
    assert february.indicator_codes == indicator_catalogue.codes()
    suite = {kwargs.get("column"): kwargs.get("value_set") for _, kwargs, _, _ in reimbursement_person_sample(february)}
    assert suite["capitation_band"] == list(february.capitation_bands)


def test_a_model_change_with_other_bands_passes_and_an_old_band_is_caught(tmp_path, good):
    from validations.expectations import run_range_checks

    path = _with_other_bands_from_february(tmp_path, good)
    assert {m: _failed_blocking(o) for m, o in run_range_checks(path, ["2025-01", "2025-02"]).items()} == {
        "2025-01": set(), "2025-02": set()}
    # a February row still labelled with a band of the old version is not one the month paid by
    execute(path, "update marts.reimbursement_person_monthly set capitation_band = '85+' "
                  "where month = '2025-02' and age >= 80")
    rule = "ge:reimbursement_person_monthly_sample:expect_column_values_to_be_in_set:capitation_band"
    broken = run_range_checks(path, ["2025-01", "2025-02"])
    assert _failed_blocking(broken["2025-02"]) == {rule}
    assert "capitation_band is one of 0-5, 6-19, 20-39, 40-64, 65-79, 80+" in _by_name(broken["2025-02"])[rule].description
    assert _failed_blocking(broken["2025-01"]) == set()


def test_no_checker_holds_a_copy_of_a_list():
    """The checks take codes, bands, professions, units and components from the warehouse
    (raw.vocabulary, raw.indicator_catalogue, the model): no value of those lists is written in
    the checkers' code. The few names that are also column or table names are allowed."""
    import ast

    from core import indicator_catalogue, vocabulary
    from core.vocabulary import COMPONENTS

    listed = ({str(v) for values in vocabulary.VOCABULARIES.values() for v in values}
              | set(indicator_catalogue.codes()) | set(COMPONENTS))
    column_names = {"listed_count", "new_listings", "listing", "vat_compensation"}
    root = Path(__file__).resolve().parents[1]
    for checker in ("validations/expectations/suites.py", "validations/expectations/runner.py",
                    "validations/expectations/expected.py", "validations/reconciliations.py"):
        tree = ast.parse((root / checker).read_text(encoding="utf-8"))
        copies = sorted({n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                         and (n.value in listed - column_names or re.fullmatch(r"\d+(-\d+|\+)", n.value))})
        assert copies == [], f"{checker} holds {copies}"
    # dbt: no accepted_values list holds a vocabulary's values (they use in_vocabulary / vocabularies)
    for yml in (root / "dbt_project" / "models").rglob("*.yml"):
        text = yml.read_text(encoding="utf-8")
        for block in re.findall(r"accepted_values:(.*?)(?:\n\s*-\s|\Z)", text, flags=re.S):
            assert not set(re.findall(r"[a-z_0-9+-]+", block)) & (listed - column_names), yml.name
