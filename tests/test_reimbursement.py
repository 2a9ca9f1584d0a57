"""Reimbursement (SPEC §6) against hand calculations: raw rows in, one dbt build over two months.

The model is tests/fixtures/models/reimbursement_model.yaml: version 1 for January 2025,
version 2 from February 2025 (new tariffs, a "*"-profession rule for lakare, VAT 6 %).

Units                      type         owner      tier  opened       notes
  SE001  Vårdcentral A     vardcentral  privat     1     2020-01-01   VAT compensation
  SE001F Filial A          filial (-> SE001)
  SE002  Vårdcentral B     vardcentral  offentlig  0     2024-02-10   Jan = month 12, Feb = month 13
  SE003  Vårdcentral C     vardcentral  offentlig  2     2025-01-15   Jan = month 1 (start grant)
  SE004  closed 2024-12-31, SE005 opens 2025-03-01: no rows
  SE900  Jouren            jour

Persons (listed both months unless said)          age     band   deso (CNI 2024)  ACG 2025
  P1 female 1990-06-15  SE001                      34      20-39  D1 (2.0)         2.0 (2024: 1.5, not used)
  P2 male   1960-02-29  SE001, SÄBO                64      40-64  D2 (0.5)         0.8
     (29 Feb birthday = 1 March: on 2025-02-28 still 64, not 65)
  P3 female 2020-03-10  SE002                      4       0-6    DX (unknown=1.0) none (=1.0, reported)
  P4 male   1950-01-20  SE002                      75      75-84  D2 (0.5)         1.2
  P5 female 1995-05-05  SE002, February only       29      20-39  D1 (2.0)         1.0
CNI rows for 2026 exist and must not be used in 2025 (latest year not after the month's year).
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
TOLERANCE = 0.01  # SEK per VC and month (SPEC §10)

COMPONENTS = ["capitation", "acg", "cni", "geography", "sabo", "visit_fees", "visits_elsewhere_deduction",
              "goal_payment", "start_grant", "extra_assignments", "development_grant", "vat_compensation"]

# ------------------------------------------------------------------------------------------
# Hand calculation, one dict per VC and month (every component not given is 0).
#
# January 2025, version 1: acg 900/weight-year, cni 400/listed-year, SÄBO 350, deduction 600,
# geography tier1 20000 tier2 45000, start grant 250000 x 12 months, VAT 2 %.
# Visit fees v1: (besok, lakare) own 0 / other 650 / not 900; (*, *) own 0 / other 300 / not 400.
#   At SE001 (filial included): c1 P4 besok lakare at SE001F, listed SE002 -> other 650
#                               c2 P4 telefon sjukskoterska -> rule 2 other 300
#                               c3 reserve number besok lakare -> not_listed 900
#                               c4, c6, c9 own patients -> 0;  c8 P3 hembesok lakare -> rule 2 other 300
#                               = 2150
#   c5 P1 besok at the jour: the jour earns nothing; SE001 deduction -600.
#   c1 P4 (listed SE002) besok at SE001's filial: SE002 deduction -600.
#   c7 is uteblivet: counts nowhere.
# Goals (v1): phone_same_day_share all_or_nothing high 0.90, 4 SEK; assessment_3d_share lakare
#   linear 0.70..0.90, 5 SEK. SE001: 10 counted calls, 9 answered -> 0.9 >= 0.9 -> 1 -> 2 x 4 = 8.
#   First assessments at SE001 (lakare): c1 wait 1, c4 wait 2, c6 wait 10, c9 wait 3 -> 3/4 = 0.75
#   -> (0.75 - 0.70) / 0.20 = 0.25 -> 2 listed x 5 x 0.25 = 2.50. Others have no value -> 0.
JANUARY = {
    "SE001": dict(
        listed_count=2,
        capitation=(2000 + 2300) / 12,            # P1 f 20-39, P2 m 40-64
        acg=(2.0 + 0.8) * 900 / 12,               # = 210
        cni=2 * 400 / 12 * ((2.0 + 0.5) / 2),     # VC CNI 1.25 -> 83.33
        geography=20000,                          # tier 1
        sabo=350,                                 # P2
        visit_fees=2150,
        visits_elsewhere_deduction=-600,          # c5 at the jour
        goal_payment=2 * 4 * 1 + 2 * 5 * 0.25,    # = 10.50
    ),
    "SE002": dict(
        listed_count=2,
        capitation=(3100 + 5100) / 12,            # P3 f 0-6, P4 m 75-84
        acg=(1.0 + 1.2) * 900 / 12,               # P3 has no weight -> 1.0; = 165
        cni=2 * 400 / 12 * ((1.0 + 0.5) / 2),     # P3 unknown area -> 1.0; = 50
        visits_elsewhere_deduction=-600,          # c1
        start_grant=250000,                       # month 12 after opening 2024-02-10
    ),
    "SE003": dict(listed_count=0, geography=45000, start_grant=250000),   # opening month = month 1
}
JANUARY["SE001"]["vat_compensation"] = 0.02 * sum(JANUARY["SE001"][c] for c in COMPONENTS[:-1]
                                                  if c in JANUARY["SE001"])   # privat: 2 % = 451.24

# February 2025, version 2: acg 1200, cni 600, SÄBO 400, deduction 650, tier1 25000 tier2 50000,
# VAT 6 %. Visit fees v2: (besok, lakare) 0/700/950; (*, lakare) 0/500/600; (*, *) 0/300/400.
#   d1 P4 hembesok lakare at SE001 -> rule 2 (*, lakare) other 500   (v1 would have paid 300)
#   d2 P4 besok fysioterapeut at SE001 -> rule 3 other 300; SE002 deduction -650
#   d3 samordningsnummer video psykolog at SE002 -> not_listed 400
# Development grant 2025-02: pot 30000 among SE001 (2 listed), SE002 (3), SE003 (0), SE099 (not
#   a unit: reported) -> 30000 x 2/5 = 12000, 30000 x 3/5 = 18000, 0.
# Goals: no calls and no first assessments in February -> no values -> 0, reported.
FEBRUARY = {
    "SE001": dict(
        listed_count=2,
        capitation=(2100 + 2400) / 12,            # = 375; P2 still 64 on 28 Feb
        acg=(2.0 + 0.8) * 1200 / 12,              # = 280
        cni=2 * 600 / 12 * 1.25,                  # = 125
        geography=25000,
        sabo=400,
        visit_fees=500 + 300,
        development_grant=30000 * 2 / 5,
    ),
    "SE002": dict(
        listed_count=3,
        capitation=(3300 + 5300 + 2100) / 12,     # P3, P4, P5 -> 891.67
        acg=(1.0 + 1.2 + 1.0) * 1200 / 12,        # = 320
        cni=3 * 600 / 12 * ((1.0 + 0.5 + 2.0) / 3),   # = 175
        visit_fees=400,
        visits_elsewhere_deduction=-650,
        development_grant=30000 * 3 / 5,          # month 13: no start grant
    ),
    "SE003": dict(listed_count=0, geography=50000, start_grant=250000),
}
FEBRUARY["SE001"]["vat_compensation"] = 0.06 * sum(FEBRUARY["SE001"][c] for c in COMPONENTS[:-1]
                                                   if c in FEBRUARY["SE001"])  # = 2338.80
EXPECTED = {"2025-01": JANUARY, "2025-02": FEBRUARY}


def _unit(hsa_id, unit_type, owner, tier, opened, closed=None, parent=None):
    return dict(hsa_id=hsa_id, name=f"Enhet {hsa_id}", unit_type=unit_type, parent_hsa_id=parent,
                owner_type=owner, provider_name="Region", municipality_code="0180",
                opened_on=dt.date.fromisoformat(opened),
                closed_on=dt.date.fromisoformat(closed) if closed else None, rural_tier=tier)


PERSONS = {  # person_key: (sex, birth date)
    "P1": ("female", "1990-06-15"), "P2": ("male", "1960-02-29"), "P3": ("female", "2020-03-10"),
    "P4": ("male", "1950-01-20"), "P5": ("female", "1995-05-05"),
}


def _listing(month, person, unit, deso, sabo=False):
    sex, birth = PERSONS[person]
    return dict(month=month, person_key=person, sex=sex, birth_date=dt.date.fromisoformat(birth),
                vardcentral_hsa_id=unit, listed_from=dt.date(2024, 1, 1), listing_type="aktiv",
                is_sabo=sabo, deso=deso, source_file="listing.csv", source_line=2)


def _contact(contact_id, person, unit, date, contact_type, profession, status="genomford",
             kind="personnummer", first_contact=None):
    sex, birth = PERSONS.get(person, (None, None))
    day = dt.date.fromisoformat(date)
    return dict(month=date[:7], contact_id=contact_id, person_key=person, person_id_kind=kind, sex=sex,
                birth_date=dt.date.fromisoformat(birth) if birth else None, vardcentral_hsa_id=unit,
                contact_date=day, contact_type=contact_type, profession=profession,
                staff_hsa_id="S1", status=status, is_new_problem=first_contact is not None,
                first_contact_date=dt.date.fromisoformat(first_contact) if first_contact else None,
                is_patient_chose_later=False, source_file="visits.csv", source_line=2)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> FixtureWarehouse:
    w = FixtureWarehouse(tmp_path_factory.mktemp("reimbursement"))
    for table, frame in model_tables(load_model(MODEL_FILE)).items():
        w.insert(table, frame.astype(object).where(frame.notna(), None).to_dict("records"))
    w.insert("vardcentraler", [
        _unit("SE001", "vardcentral", "privat", 1, "2020-01-01"),
        _unit("SE001F", "filial", "privat", 1, "2020-01-01", parent="SE001"),
        _unit("SE002", "vardcentral", "offentlig", 0, "2024-02-10"),
        _unit("SE003", "vardcentral", "offentlig", 2, "2025-01-15"),
        _unit("SE004", "vardcentral", "offentlig", 0, "2010-01-01", closed="2024-12-31"),
        _unit("SE005", "vardcentral", "offentlig", 0, "2025-03-01"),
        _unit("SE900", "jour", "offentlig", 0, "2010-01-01"),
    ])
    w.insert("cni_areas", [dict(deso="D1", year=2024, cni=2.0), dict(deso="D2", year=2024, cni=0.5),
                           dict(deso="D1", year=2026, cni=9.0), dict(deso="DX", year=2026, cni=9.0)])
    w.insert("acg_weights", [dict(person_key="P1", year=2024, acg_weight=1.5),
                             dict(person_key="P1", year=2025, acg_weight=2.0),
                             dict(person_key="P2", year=2025, acg_weight=0.8),
                             dict(person_key="P4", year=2025, acg_weight=1.2),
                             dict(person_key="P5", year=2025, acg_weight=1.0)])
    w.insert("development_grants", [dict(payout_month="2025-02", pot_sek=30000.0, hsa_id=h)
                                    for h in ("SE001", "SE002", "SE003", "SE099")])
    listing = []
    for month in MONTHS:
        listing += [_listing(month, "P1", "SE001", "D1"), _listing(month, "P2", "SE001", "D2", sabo=True),
                    _listing(month, "P3", "SE002", "DX"), _listing(month, "P4", "SE002", "D2")]
    listing.append(_listing("2025-02", "P5", "SE002", "D1"))
    w.insert("listing", listing)
    w.insert("visits", [
        _contact("c1", "P4", "SE001F", "2025-01-05", "besok", "lakare", first_contact="2025-01-04"),
        _contact("c2", "P4", "SE001", "2025-01-06", "telefon", "sjukskoterska"),
        _contact("c3", "R1", "SE001", "2025-01-07", "besok", "lakare", kind="reserve"),
        _contact("c4", "P1", "SE001", "2025-01-10", "besok", "lakare", first_contact="2025-01-08"),
        _contact("c5", "P1", "SE900", "2025-01-11", "besok", "lakare"),
        _contact("c6", "P1", "SE001F", "2025-01-20", "besok", "lakare", first_contact="2025-01-10"),
        _contact("c7", "P2", "SE002", "2025-01-21", "besok", "sjukskoterska", status="uteblivet"),
        _contact("c8", "P3", "SE001", "2025-01-22", "hembesok", "lakare"),
        _contact("c9", "P2", "SE001", "2025-01-25", "besok", "lakare", first_contact="2025-01-22"),
        _contact("d1", "P4", "SE001", "2025-02-03", "hembesok", "lakare"),
        _contact("d2", "P4", "SE001", "2025-02-04", "besok", "fysioterapeut"),
        _contact("d3", "S1", "SE002", "2025-02-05", "video", "psykolog", kind="samordningsnummer"),
    ])
    w.insert("telephony", [
        dict(month="2025-01", call_id=f"t{i}", vardcentral_hsa_id="SE001",
             called_at=dt.datetime(2025, 1, 8, 9, i), queue="tidsbokning",
             outcome="answered" if i < 9 else "abandoned", callback_at=None, is_in_opening_hours=True,
             source_file="telephony.csv", source_line=2 + i)
        for i in range(10)
    ])
    # Models first, then this domain's data and unit tests: the indicator domain's own tests are
    # theirs to keep green and must not skip these models.
    selection = ("+reimbursement_monthly+", "+reimbursement_exceptions_monthly", "+targets")
    w.dbt("run", "--select", *selection, month_from=MONTHS[0], month_to=MONTHS[1])
    w.dbt("test", "--select", "path:models/intermediate/reimbursement", "path:models/marts/reimbursement",
          month_from=MONTHS[0], month_to=MONTHS[1])
    return w


@pytest.fixture(scope="module")
def monthly(warehouse) -> pd.DataFrame:
    return warehouse.query("select * from marts.reimbursement_monthly order by month, vardcentral_hsa_id")


def test_every_open_vardcentral_has_one_row_per_month(monthly):
    got = sorted(zip(monthly["month"], monthly["vardcentral_hsa_id"]))
    assert got == [(m, vc) for m in MONTHS for vc in ("SE001", "SE002", "SE003")]


@pytest.mark.parametrize("month", MONTHS)
@pytest.mark.parametrize("vc", ["SE001", "SE002", "SE003"])
def test_components_match_hand_calculation(monthly, month, vc):
    row = monthly[(monthly["month"] == month) & (monthly["vardcentral_hsa_id"] == vc)].iloc[0]
    expected = EXPECTED[month][vc]
    assert row["listed_count"] == expected["listed_count"]
    for component in COMPONENTS:
        assert row[component] == pytest.approx(expected.get(component, 0.0), abs=TOLERANCE), component
    hand_total = sum(expected.get(c, 0.0) for c in COMPONENTS)
    assert row["total"] == pytest.approx(hand_total, abs=TOLERANCE)


def test_model_version_follows_the_month(monthly):
    versions = dict(zip(monthly["month"], monthly["model_version_id"]))
    assert versions == {"2025-01": 1, "2025-02": 2}
    assert set(pd.to_datetime(monthly.loc[monthly["month"] == "2025-02", "model_valid_from"]).dt.date) == {dt.date(2025, 2, 1)}


def test_components_sum_to_total(monthly):
    assert (monthly[COMPONENTS].sum(axis=1) - monthly["total"]).abs().max() < 1e-6
    assert (monthly["visits_elsewhere_deduction"] <= 0).all()


def test_person_rows_add_up_to_the_vardcentral_figures(warehouse, monthly):
    persons = warehouse.query("""
        select month, vardcentral_hsa_id, count(*) as listed_count, sum(capitation) as capitation,
               sum(acg) as acg, sum(cni) as cni, sum(sabo) as sabo
        from marts.reimbursement_person_monthly group by all""")
    merged = monthly.merge(persons, on=["month", "vardcentral_hsa_id"], how="left", suffixes=("", "_persons"))
    for column in ("listed_count", "capitation", "acg", "cni", "sabo"):
        assert (merged[column] - merged[f"{column}_persons"].fillna(0)).abs().max() < 1e-9, column


def test_person_rows_carry_age_band_and_amounts(warehouse):
    p2 = warehouse.query("select * from marts.reimbursement_person_monthly where person_key = 'P2' "
                         "and month = '2025-02'").iloc[0]
    assert (p2["age"], p2["age_band"], p2["sex"]) == (64, "40-64", "male")   # 29 Feb -> 1 March rule
    assert p2["capitation"] == pytest.approx(2400 / 12)
    assert p2["sabo"] == pytest.approx(400)
    p3 = warehouse.query("select * from marts.reimbursement_person_monthly where person_key = 'P3' "
                         "and month = '2025-01'").iloc[0]
    assert p3["acg"] == pytest.approx(1.0 * 900 / 12)   # no weight -> 1.0
    assert p3["cni"] == pytest.approx(400 / 12 * 0.75)  # the VC's CNI, not the person's area


def test_goal_rows_explain_the_goal_payment(warehouse):
    goals = warehouse.query("select * from marts.reimbursement_goals_monthly "
                            "where vardcentral_hsa_id = 'SE001' and month = '2025-01' order by goal_order")
    assert list(goals["indicator"]) == ["phone_same_day_share", "assessment_3d_share"]
    assert list(goals["indicator_value"]) == pytest.approx([0.9, 0.75])
    assert list(goals["fulfilment"]) == pytest.approx([1.0, 0.25])
    assert list(goals["amount"]) == pytest.approx([8.0, 2.5])


def test_visit_fee_rows_name_the_rule(warehouse):
    fees = warehouse.query("select * from marts.reimbursement_visit_fees_monthly where month = '2025-02' "
                           "and vardcentral_hsa_id = 'SE001' order by contact_type")
    assert list(zip(fees["contact_type"], fees["patient_category"], fees["rule_order"], fees["fee_sek"])) == [
        ("besok", "other_listed", 3, 300.0), ("hembesok", "other_listed", 2, 500.0)]
    jour = warehouse.query("select count(*) as n from marts.reimbursement_visit_fees_monthly "
                           "where vardcentral_hsa_id = 'SE900'")
    assert jour["n"].iloc[0] == 0


def test_exceptions_are_reported(warehouse):
    got = warehouse.query("select month, vardcentral_hsa_id, exception, item_count "
                          "from marts.reimbursement_exceptions_monthly")
    got = set(got.itertuples(index=False, name=None))
    assert got == {
        ("2025-01", "SE002", "acg_weight_missing", 1), ("2025-01", "SE002", "cni_area_unknown", 1),
        ("2025-01", "SE002", "goal_indicator_missing", 2), ("2025-01", "SE003", "goal_indicator_missing", 2),
        ("2025-02", "SE002", "acg_weight_missing", 1), ("2025-02", "SE002", "cni_area_unknown", 1),
        ("2025-02", "SE001", "goal_indicator_missing", 2), ("2025-02", "SE002", "goal_indicator_missing", 2),
        ("2025-02", "SE003", "goal_indicator_missing", 2),
        ("2025-02", "SE099", "development_grant_unit_not_open", 1),
    }


def test_rerunning_a_month_replaces_it(warehouse, monthly):
    # Same vars as the build, so dbt's partial parse is reused (a var change re-parses everything).
    warehouse.dbt("run", "--select", "reimbursement_person_monthly", "reimbursement_monthly",
                  month_from=MONTHS[0], month_to=MONTHS[1])
    again = warehouse.query("select * from marts.reimbursement_monthly order by month, vardcentral_hsa_id")
    assert len(again) == len(monthly)
    assert (again["total"] - monthly["total"]).abs().max() < 1e-9
    persons = warehouse.query("select month, count(*) as n from marts.reimbursement_person_monthly group by month")
    assert dict(zip(persons["month"], persons["n"])) == {"2025-01": 4, "2025-02": 5}
