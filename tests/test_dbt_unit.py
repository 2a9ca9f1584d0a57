"""dbt unit tests (YAML `unit_tests:`) of the indicator models.

dbt needs the models' parents to exist to know their column types, so one session-scoped
warehouse gets every parent built empty (`dbt run --empty`), then the unit tests run once.
Each unit test pins month_from = month_to = 2025-01 with `overrides: vars` (dbt applies them
inside the month macros too), so they pass under any run range, e.g. in the production `dbt build`.
"""
from __future__ import annotations

import re

import pytest

from tests.warehouse_fixture import FixtureWarehouse

MY_MODELS = ["+path:models/intermediate/shared", "+path:models/intermediate/indicators",
             "+path:models/marts/indicators",
             "+path:models/marts/quality"]


@pytest.fixture(scope="session")
def unit_test_run(tmp_path_factory):
    wh = FixtureWarehouse(tmp_path_factory.mktemp("dbt_unit"))
    wh.dbt("run", "--empty", "--select", *MY_MODELS, month_from="2025-01")
    return wh.dbt("test", "--select", "test_type:unit,tag:indicators", month_from="2025-01", check=False)


def test_indicator_unit_tests_pass(unit_test_run):
    output = unit_test_run.stdout
    assert unit_test_run.returncode == 0, output[-8000:]
    summary = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", output)
    assert summary, output[-4000:]
    passed, _, errors = map(int, summary.groups())
    assert errors == 0 and passed >= 8, output[-4000:]


def test_every_tricky_rule_has_a_unit_test(unit_test_run):
    expected = [
        "accessibility__int_first_assessments_selected_rules",
        "accessibility__int_calls_classified_per_outcome",
        "continuity__int_persons_coc_computed_worked_examples",
        "continuity__int_caregiver_contacts_counted_incremental",
        "listing__int_vc_changes_identified_across_snapshots",
        "listing__int_vc_changes_identified_incremental",
        "listing__int_relistings_counted_window",
        "listing__int_listings_ended_moved_and_gone",
        "contacts__int_coverage_persons_counted_window",
        "contacts__int_care_unit_contacts_counted_incremental",
        "listing__int_persons_listed_bands_and_flags",
        "shared__int_person_months_listed_age_on_leap_birthday",
        "shared__int_contacts_categorised_patient_category",
    ]
    missing = [name for name in expected if name not in unit_test_run.stdout]
    assert not missing, missing
