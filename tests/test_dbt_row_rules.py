"""The marts' `row_rules` dbt test (tests/generic/row_rules.sql): one test per mart that
counts the rows breaking each rule, so it must still fail, and name the rule, when rows break it."""
from __future__ import annotations

import datetime as dt

from tests.warehouse_fixture import FixtureWarehouse


def _unit(hsa_id: str, unit_type: str = "vardcentral", owner: str = "offentlig", tier: int = 0,
          parent: str | None = None) -> dict:
    return dict(hsa_id=hsa_id, name=f"Enhet {hsa_id}", unit_type=unit_type, parent_hsa_id=parent,
                owner_type=owner, provider_name="Region", municipality_code="0180",
                opened_on=dt.date(2020, 1, 1), closed_on=None, rural_tier=tier)


def test_row_rules_fail_and_name_each_broken_rule(tmp_path):
    # Passing runs are covered where the marts are built (test_reimbursement, the pipeline tests).
    wh = FixtureWarehouse(tmp_path)
    wh.insert("vardcentraler", [_unit("SE001"), _unit("SE002", "filial", "privat", 3, parent="SE001"),
                                _unit("SE003", unit_type="sjukhus"), _unit("SE004", tier=7), _unit("SE005", tier=9)])
    wh.dbt("run", "--select", "+vardcentraler", month_from="2025-01")
    # Only the mart's tests: the staging tests would stop a bad row before it reaches the mart.
    failed = wh.dbt("test", "--select", "vardcentraler", "--exclude-resource-type", "unit_test",
                    month_from="2025-01", check=False)
    assert failed.returncode != 0
    assert "Failure in test vardcentraler_row_rules" in failed.stdout, failed.stdout[-3000:]
    assert "Got 2 results" in failed.stdout  # one row per broken rule
    compiled = next((tmp_path / "dbt_target" / "compiled").rglob("vardcentraler_row_rules.sql")).read_text()
    broken = dict(wh.query(compiled)[["rule", "broken_rows"]].itertuples(index=False))
    assert broken == {"unit_type is not in the vocabulary unit_type": 1,
                      "not rural_tier is in [0, 3]": 2}
