"""Reimbursement when the registry and the model change between two months, by hand (SPEC §3.5, §10.1).

Model: tests/fixtures/models/reimbursement_model.yaml, but version 2 (from 2025-02) pays by
other capitation bands: 0-5, 6-19, 20-39, 40-64, 65-79, 80+.
Registry: SE010 is public (tier 0) until 2025-01-31 and private (tier 1, new provider) from
2025-02-01 — two rows; its filial and a jour unit leave rural_tier empty.

Persons at SE010, both months: P1 female 1990-06-15 (34), P2 male 1944-01-10 (81); no ACG
weight (1.0), no known area (CNI 1.0), nobody in SÄBO, no contacts, no goals with a value.

January (v1: acg 900, cni 400, tier 0 = 0, VAT 2 %, public -> no VAT)
  capitation = (2000 [f 20-39] + 5100 [m 75-84]) / 12 = 591.67
  acg = 2 x 900 / 12 = 150;  cni = 2 x 400 / 12 = 66.67;  total 808.33
February (v2: acg 1200, cni 600, tier 1 = 25000, VAT 6 %, private from the new row)
  capitation = (2100 [f 20-39] + 5900 [m 80+, new band]) / 12 = 666.67
  acg = 2 x 1200 / 12 = 200;  cni = 2 x 600 / 12 = 100;  geography 25000
  vat = 6 % x 25966.67 = 1558.00;  total 27524.67
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from sources.reimbursement_model import load_model, model_tables
from tests.warehouse_fixture import FixtureWarehouse

MODEL_FILE = Path(__file__).parent / "fixtures" / "models" / "reimbursement_model.yaml"
MONTHS = ("2025-01", "2025-02")
NEW_BANDS = [(0, 5, 3000, 3100), (6, 19, 1550, 1450), (20, 39, 2100, 1700), (40, 64, 2600, 2400),
             (65, 79, 4500, 4400), (80, None, 6000, 5900)]
JANUARY = dict(capitation=(2000 + 5100) / 12, acg=150.0, cni=800 / 12, geography=0.0, vat_compensation=0.0)
FEBRUARY = dict(capitation=(2100 + 5900) / 12, acg=200.0, cni=100.0, geography=25000.0)
FEBRUARY["vat_compensation"] = 0.06 * sum(FEBRUARY.values())
EXPECTED = {"2025-01": JANUARY, "2025-02": FEBRUARY}


def _unit(hsa_id, unit_type, owner, tier, parent=None, valid_from=None, valid_to=None, provider="Region"):
    return dict(hsa_id=hsa_id, name=f"Enhet {hsa_id}", unit_type=unit_type, parent_hsa_id=parent, owner_type=owner,
                provider_name=provider, municipality_code="0180", opened_on=dt.date(2010, 1, 1), closed_on=None,
                rural_tier=tier, valid_from=valid_from, valid_to=valid_to)


def _listing(month, person, sex, birth):
    return dict(month=month, person_key=person, sex=sex, birth_date=dt.date.fromisoformat(birth),
                vardcentral_hsa_id="SE010", listed_from=dt.date(2020, 1, 1), listing_type="aktiv",
                is_sabo=False, deso=None, source_file="listing.csv", source_line=2)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> FixtureWarehouse:
    w = FixtureWarehouse(tmp_path_factory.mktemp("reimbursement_history"))
    tables = model_tables(load_model(MODEL_FILE))
    capitation = tables["model_capitation"]
    tables["model_capitation"] = pd.concat([
        capitation[capitation["version_id"] == 1],
        pd.DataFrame([dict(version_id=2, age_from=a, age_to=b, female_sek_year=float(f), male_sek_year=float(m))
                      for a, b, f, m in NEW_BANDS])], ignore_index=True)
    for table, frame in tables.items():
        w.insert(table, frame.astype(object).where(frame.notna(), None).to_dict("records"))
    w.insert("vardcentraler", [
        _unit("SE010", "vardcentral", "offentlig", 0, valid_to=dt.date(2025, 1, 31)),
        _unit("SE010", "vardcentral", "privat", 1, valid_from=dt.date(2025, 2, 1), provider="Ny Vård AB"),
        _unit("SE010F", "filial", "offentlig", None, parent="SE010"),
        _unit("SE910", "jour", "offentlig", None),
    ])
    w.insert("listing", [_listing(m, p, sex, birth) for m in MONTHS
                         for p, sex, birth in (("P1", "female", "1990-06-15"), ("P2", "male", "1944-01-10"))])
    w.dbt("run", "--select", "+reimbursement_monthly+", "+reimbursement_exceptions_monthly", "+targets", "+vardcentraler",
          month_from=MONTHS[0], month_to=MONTHS[1])
    w.dbt("test", "--select", "path:models/marts/reimbursement", "vardcentraler", "stg_registry__units",
          month_from=MONTHS[0], month_to=MONTHS[1])
    return w


@pytest.mark.parametrize("month", MONTHS)
def test_the_month_pays_with_its_registry_row_and_model_version(warehouse, month):
    row = warehouse.query(f"select * from marts.reimbursement_monthly where month = '{month}'").iloc[0]
    assert row["vardcentral_hsa_id"] == "SE010"
    assert row["owner_type"] == {"2025-01": "offentlig", "2025-02": "privat"}[month]
    for component, amount in EXPECTED[month].items():
        assert row[component] == pytest.approx(amount, abs=0.005), component
    assert row["total"] == pytest.approx(sum(EXPECTED[month].values()), abs=0.005)


def test_person_rows_carry_the_reporting_and_the_paying_band(warehouse):
    rows = warehouse.query("select month, person_key, age, age_band, capitation_band, capitation "
                           "from marts.reimbursement_person_monthly order by month, person_key")
    got = list(rows[["month", "person_key", "age", "age_band", "capitation_band"]].itertuples(index=False, name=None))
    assert got == [("2025-01", "P1", 34, "20-39", "20-39"), ("2025-01", "P2", 81, "75-84", "75-84"),
                   ("2025-02", "P1", 34, "20-39", "20-39"), ("2025-02", "P2", 81, "75-84", "80+")]
    assert rows["capitation"].tolist() == pytest.approx([2000 / 12, 5100 / 12, 2100 / 12, 5900 / 12])


def test_the_registry_mart_keeps_every_row_with_its_validity(warehouse):
    rows = warehouse.query("select hsa_id, owner_type, provider_name, rural_tier, valid_from, valid_to "
                           "from marts.vardcentraler order by hsa_id, valid_from nulls first")
    assert [tuple(None if pd.isna(v) else v for v in r) for r in rows.itertuples(index=False, name=None)] == [
        ("SE010", "offentlig", "Region", 0, None, pd.Timestamp("2025-01-31")),
        ("SE010", "privat", "Ny Vård AB", 1, pd.Timestamp("2025-02-01"), None),
        ("SE010F", "offentlig", "Region", None, None, None),
        ("SE910", "offentlig", "Region", None, None, None)]
