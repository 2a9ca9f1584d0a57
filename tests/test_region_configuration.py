"""A region's own configuration, changing during the range, through the real pipeline (SPEC §3.5, §9).

The synthetic region's reference files are edited the way a region writes its own:
- the model gets a version from 2025-02 with other capitation bands (0-5, 6-19, 20-39, 40-64,
  65-79, 80+) and a VAT rate of 3 %;
- the public VC ...101 is taken over by a private provider on 2025-02-01: two registry rows
  with valid_from/valid_to, the second with the new owner type and provider;
- the filial, jour and digital rows leave rural_tier (a VC-only field) empty.
One `vardval run` over January and February must publish both months, each paid with its own
model version and registry row. The checks (GE, reconciliations) take what they expect from the
month's model version and registry rows, so nothing assumes the shipped default.
"""
from __future__ import annotations

import csv
import datetime as dt

import pytest
import yaml

from core.vocabulary import COMPONENTS
from tests.pipeline_fixture import Region, run_ok

MONTHS = ["2025-01", "2025-02"]
NEW_BANDS = [  # (age_from, age_to, female, male) SEK per year, version 2 from 2025-02
    (0, 5, 3000, 3100), (6, 19, 1550, 1450), (20, 39, 2050, 1650), (40, 64, 2550, 2350),
    (65, 79, 4500, 4400), (80, None, 6000, 5900)]
NEW_VAT_PCT = 3.0
TAKEN_OVER = "SE2321000180-E000000000101"
NEW_PROVIDER = "Britsarvet Vård AB"
COMPONENTS_BEFORE_VAT = [c for c in COMPONENTS if c != "vat_compensation"]


def _label(age_from, age_to):
    return f"{age_from}+" if age_to is None else f"{age_from}-{age_to}"


def _edit_model(path):
    model = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = model["versions"][0]
    second = {**first, "valid_from": dt.date(2025, 2, 1), "valid_to": first["valid_to"],
              "capitation": [{"age_from": a, "age_to": b, "female": f, "male": m} for a, b, f, m in NEW_BANDS],
              "vat_compensation_pct": NEW_VAT_PCT}
    first["valid_to"] = dt.date(2025, 1, 31)
    model["versions"] = [first, second, *model["versions"][1:]]
    path.write_text(yaml.safe_dump(model, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit_registry(path):
    with path.open(encoding="cp1252", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    out = []
    for row in rows:
        # the generated registry may already carry history (its own takeover): keep it
        row = {"valid_from": "", "valid_to": "", "provider_org_number": "", **row}
        if row["unit_type"] != "vardcentral":
            row["rural_tier"] = ""
        if row["hsa_id"] == TAKEN_OVER:
            assert row["owner_type"] == "offentlig"
            out.append({**row, "valid_to": "2025-01-31"})
            row = {**row, "valid_from": "2025-02-01", "owner_type": "privat", "provider_name": NEW_PROVIDER,
                   "provider_org_number": "556000-0001"}
        out.append(row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    return {row["hsa_id"] for row in rows if row["unit_type"] != "vardcentral"}


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Region:
    region = Region(tmp_path_factory.mktemp("own_configuration"))
    region.generate(MONTHS)
    _edit_model(region.landing / "reference" / "reimbursement_model.yaml")
    region.blank_tier_units = _edit_registry(region.landing / "reference" / "vardcentraler.csv")
    run_ok(region, "run", "--from", MONTHS[0], "--to", MONTHS[-1])
    return region


def _published(region, sql):
    return region.query(sql, region.published / "published.duckdb")


def test_a_model_change_with_other_bands_publishes_every_month(region):
    months = _published(region, "select distinct month from reimbursement_person_monthly order by 1")
    assert [m for (m,) in months] == MONTHS
    bands = dict(_published(region, """
        select month, list(distinct capitation_band order by capitation_band)
        from reimbursement_person_monthly group by month"""))
    assert set(bands["2025-01"]) <= {"0-6", "7-19", "20-39", "40-64", "65-74", "75-84", "85+"}
    assert "80+" in bands["2025-02"] and set(bands["2025-02"]) <= {_label(a, b) for a, b, _, _ in NEW_BANDS}
    # the reporting band stays the fixed one of listing_monthly, whatever the model pays by
    reporting = {b for (b,) in _published(region, "select distinct age_band from reimbursement_person_monthly")}
    assert reporting <= {"0-6", "7-19", "20-39", "40-64", "65-74", "75-84", "85+"}


def test_person_capitation_follows_the_new_bands_by_hand(region):
    rows = _published(region, """
        select age, sex, capitation_band, age_band, capitation from reimbursement_person_monthly
        where month = '2025-02' and age in (5, 6, 79, 80, 84, 85)""")
    seen = set()
    for age, sex, band, age_band, capitation in rows:
        a, b, female, male = next(x for x in NEW_BANDS if x[0] <= age and (x[1] is None or age <= x[1]))
        assert band == _label(a, b)
        assert capitation == pytest.approx((female if sex == "female" else male) / 12, abs=1e-9)
        seen.add((age, band, age_band))
    # e.g. age 80: capitation band 80+, reporting band 75-84
    assert (80, "80+", "75-84") in seen and (5, "0-5", "0-6") in seen


def test_owner_change_pays_vat_from_the_month_of_the_new_row(region):
    rows = {m: (owner, vat, total, components) for m, owner, vat, total, components in _published(region, f"""
        select month, owner_type, vat_compensation, total, {' + '.join(COMPONENTS_BEFORE_VAT)}
        from reimbursement_monthly where vardcentral_hsa_id = '{TAKEN_OVER}' order by month""")}
    assert rows["2025-01"][0] == "offentlig" and rows["2025-01"][1] == 0
    owner, vat, total, before_vat = rows["2025-02"]
    assert owner == "privat"
    assert vat == pytest.approx(NEW_VAT_PCT / 100 * before_vat, abs=0.01)
    assert total == pytest.approx(before_vat * (1 + NEW_VAT_PCT / 100), abs=0.01)


def test_the_published_registry_carries_each_rows_validity(region):
    rows = _published(region, f"""
        select owner_type, provider_name, valid_from, valid_to from vardcentraler
        where hsa_id = '{TAKEN_OVER}' order by valid_from nulls first""")
    assert rows == [("offentlig", "Region Dalarna", None, dt.date(2025, 1, 31)),
                    ("privat", NEW_PROVIDER, dt.date(2025, 2, 1), None)]
    tiers = _published(region, "select hsa_id, rural_tier from vardcentraler where unit_type <> 'vardcentral'")
    assert {h for h, _ in tiers} == region.blank_tier_units and all(t is None for _, t in tiers)
