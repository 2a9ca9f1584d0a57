"""A small warehouse with the `marts.*` tables of docs/architecture.md, filled by hand.

Independent of the dbt models and of the generator: every figure is computed here from a
handful of persons, contacts and goals, so that all reconciliations hold exactly.

Units: three open VCs (one public, two private, one of them opened in November 2024 and so
drawing the start-up grant), one filial of VC A, one jour unit and one VC closed in 2024.
Months: 2025-01 and 2025-02 (a person joins VC B in February; a development grant is paid in
February).

Use `build_marts_warehouse(data_dir)`; break it afterwards with `execute(path, sql)`.
"""
from __future__ import annotations

import calendar
import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from core.warehouse import connect, ensure_schema

MONTHS = ("2025-01", "2025-02")
VC_A = "SE2321000016-AAA1"
VC_B = "SE2321000016-BBB2"
VC_C = "SE2321000016-CCC3"
FILIAL_A = "SE2321000016-AAF1"
JOUR = "SE2321000016-JOUR"
VC_CLOSED = "SE2321000016-DDD4"
OPEN_VCS = (VC_A, VC_B, VC_C)

UNITS = [
    dict(hsa_id=VC_A, name="Vårdcentralen Norra", unit_type="vardcentral", parent_hsa_id=None,
         owner_type="offentlig", provider_name="Region Exempel", municipality_code="2480",
         opened_on=date(2015, 1, 1), closed_on=None, rural_tier=0, listing_cap=None, cap_from=None, cap_to=None),
    dict(hsa_id=VC_B, name="Hälsocentralen Älvdalen", unit_type="vardcentral", parent_hsa_id=None,
         owner_type="privat", provider_name="Älvdalens Läkarhus AB", municipality_code="2039",
         opened_on=date(2024, 11, 1), closed_on=None, rural_tier=2, listing_cap=9000,
         cap_from=date(2025, 1, 1), cap_to=date(2025, 12, 31)),
    dict(hsa_id=VC_C, name="Söderhälsan", unit_type="vardcentral", parent_hsa_id=None,
         owner_type="privat", provider_name="Söderhälsan AB", municipality_code="2480",
         opened_on=date(2010, 3, 1), closed_on=None, rural_tier=1, listing_cap=None, cap_from=None, cap_to=None),
    dict(hsa_id=FILIAL_A, name="Norra filial Byn", unit_type="filial", parent_hsa_id=VC_A,
         owner_type="offentlig", provider_name="Region Exempel", municipality_code="2480",
         opened_on=date(2016, 1, 1), closed_on=None, rural_tier=3, listing_cap=None, cap_from=None, cap_to=None),
    dict(hsa_id=JOUR, name="Jourmottagningen", unit_type="jour", parent_hsa_id=None,
         owner_type="offentlig", provider_name="Region Exempel", municipality_code="2480",
         opened_on=date(2012, 1, 1), closed_on=None, rural_tier=0, listing_cap=None, cap_from=None, cap_to=None),
    dict(hsa_id=VC_CLOSED, name="Gamla vårdcentralen", unit_type="vardcentral", parent_hsa_id=None,
         owner_type="privat", provider_name="Gamla AB", municipality_code="2480",
         opened_on=date(2005, 1, 1), closed_on=date(2024, 6, 30), rural_tier=0, listing_cap=None,
         cap_from=None, cap_to=None),
]

CAPITATION = [  # (age_from, age_to, band, female, male) SEK per year
    (0, 6, "0-6", 3100, 3200), (7, 19, "7-19", 1500, 1400), (20, 39, "20-39", 2000, 1600),
    (40, 64, "40-64", 2500, 2300), (65, 74, "65-74", 3800, 3700), (75, 84, "75-84", 5200, 5100),
    (85, 200, "85+", 6400, 6300),
]
ACG_SEK_PER_WEIGHT_YEAR = 900.0
CNI_SEK_PER_LISTED_YEAR = 400.0
SABO_SEK = 350.0
GEOGRAPHY = {0: 0.0, 1: 20000.0, 2: 45000.0, 3: 90000.0}
START_GRANT = 250000.0
VAT_PCT = 2.0
DEVELOPMENT_POT = {"2025-02": 120000.0}  # paid to A and C in proportion to listed count
DESO_CNI = {"2480C1010": 1.4, "2480C1020": 0.8, "2039A0010": 1.1}

GOALS = [  # goal_order, indicator, profession, payout, low, high, sek_per_listed_month
    (1, "phone_same_day_share", "all", "all_or_nothing", None, 0.90, 4.0),
    (2, "assessment_3d_share", "lakare", "linear", 0.70, 0.90, 5.0),
]
# per VC and month: (phone numerator, denominator), (assessment numerator, denominator)
GOAL_INPUTS = {
    ("2025-01", VC_A): ((46, 50), (16, 20)), ("2025-02", VC_A): ((47, 50), (17, 20)),
    ("2025-01", VC_B): ((30, 40), (9, 10)), ("2025-02", VC_B): ((38, 40), (8, 10)),
    ("2025-01", VC_C): ((27, 30), (6, 10)), ("2025-02", VC_C): ((25, 30), (7, 10)),
}
VISIT_FEE_RULES = [  # rule_order, contact_type, profession, own, other, not_listed
    (1, "besok", "lakare", 0.0, 650.0, 900.0),
    (2, "*", "*", 0.0, 300.0, 400.0),
]
# contacts: (month, vc, contact_type, profession, patient_category, count)
CONTACTS = [
    ("2025-01", VC_A, "besok", "lakare", "own_listed", 14), ("2025-01", VC_A, "besok", "lakare", "other_listed", 2),
    ("2025-01", VC_A, "telefon", "sjukskoterska", "own_listed", 9), ("2025-01", VC_A, "besok", "lakare", "not_listed", 1),
    ("2025-01", VC_B, "besok", "lakare", "own_listed", 6), ("2025-01", VC_B, "video", "lakare", "other_listed", 1),
    ("2025-01", VC_C, "besok", "sjukskoterska", "own_listed", 8), ("2025-01", VC_C, "chatt", "sjukskoterska", "not_listed", 3),
    ("2025-02", VC_A, "besok", "lakare", "own_listed", 15), ("2025-02", VC_A, "besok", "lakare", "other_listed", 1),
    ("2025-02", VC_A, "telefon", "sjukskoterska", "own_listed", 7),
    ("2025-02", VC_B, "besok", "lakare", "own_listed", 7), ("2025-02", VC_B, "video", "lakare", "other_listed", 2),
    ("2025-02", VC_C, "besok", "sjukskoterska", "own_listed", 9), ("2025-02", VC_C, "hembesok", "sjukskoterska", "other_listed", 1),
]
VISITS_ELSEWHERE = {  # (month, vc): besok contacts of persons listed here at another unit
    ("2025-01", VC_A): 2, ("2025-01", VC_B): 1, ("2025-01", VC_C): 0,
    ("2025-02", VC_A): 1, ("2025-02", VC_B): 0, ("2025-02", VC_C): 3,
}
DEDUCTION_SEK = 600.0


def person_key(i: int) -> str:
    return hashlib.sha256(f"fixture-person-{i}".encode()).hexdigest()


def _persons() -> list[dict]:
    """Persons with their VC per month (None = not listed that month)."""
    people = []
    births = [date(1950, 4, 2), date(1988, 7, 19), date(2021, 2, 28), date(1940, 11, 1), date(2010, 5, 5),
              date(1975, 1, 31), date(1999, 12, 24), date(1962, 6, 6), date(1932, 3, 3), date(2019, 9, 9)]
    desos = ["2480C1010", "2480C1020", None, "2039A0010"]
    plan = [(VC_A, 12), (VC_B, 8), (VC_C, 10)]
    i = 0
    for vc, n in plan:
        for j in range(n):
            i += 1
            people.append(dict(
                idx=i, person_key=person_key(i), sex="female" if i % 2 else "male",
                birth_date=births[i % len(births)], deso=desos[i % len(desos)],
                is_sabo=(i % 7 == 0), acg_weight=(None if i % 5 == 0 else round(0.5 + (i % 9) * 0.25, 2)),
                fast_lakare=(i % 3 != 0), listing_type="aktiv" if i % 4 else "passiv",
                listed_from=date(2020, 1, 1 + (i % 27)), vc={m: vc for m in MONTHS},
            ))
    i += 1  # joins VC B in February
    people.append(dict(idx=i, person_key=person_key(i), sex="female", birth_date=date(1990, 8, 8), deso="2039A0010",
                       is_sabo=False, acg_weight=1.5, fast_lakare=True, listing_type="aktiv",
                       listed_from=date(2025, 2, 10), vc={"2025-01": None, "2025-02": VC_B}))
    return people


def _age(birth: date, on: date) -> int:
    # 29 February birthdays fall on 1 March in other years
    try:
        birthday = birth.replace(year=on.year)
    except ValueError:
        birthday = date(on.year, 3, 1)
    return on.year - birth.year - (1 if on < birthday else 0)


def _band(age: int) -> tuple[str, float, float]:
    for lo, hi, band, female, male in CAPITATION:
        if lo <= age <= hi:
            return band, female, male
    raise ValueError(age)


def _month_end(month: str) -> date:
    y, m = (int(p) for p in month.split("-"))
    return date(y, m, calendar.monthrange(y, m)[1])


MART_DDL = """
create schema if not exists marts;
create table marts.vardcentraler (
    hsa_id varchar, name varchar, unit_type varchar, parent_hsa_id varchar, owner_type varchar,
    provider_name varchar, provider_org_number varchar, municipality_code varchar, opened_on date,
    closed_on date, rural_tier integer, listing_cap integer, cap_from date, cap_to date,
    vat_compensation_pct double, valid_from date, valid_to date);
create table marts.indicators_monthly (
    month varchar, vardcentral_hsa_id varchar, indicator_code varchar, sex varchar, profession varchar,
    numerator double, denominator double, value double, is_suppressed boolean, window_months integer,
    unit_basis varchar);
create table marts.listing_monthly (
    month varchar, vardcentral_hsa_id varchar, age_band varchar, sex varchar, listed_count bigint,
    aktiv_count bigint, passiv_count bigint, new_listings bigint, sabo_count bigint, fast_lakare_count bigint);
create table marts.contacts_monthly (
    month varchar, vardcentral_hsa_id varchar, contact_type varchar, profession varchar,
    patient_category varchar, unit_type varchar, contact_count bigint);
create table marts.reimbursement_monthly (
    month varchar, vardcentral_hsa_id varchar, owner_type varchar, model_version_id integer,
    model_valid_from date, listed_count bigint, capitation double, acg double, cni double, geography double,
    sabo double, visit_fees double, visits_elsewhere_deduction double, goal_payment double,
    start_grant double, extra_assignments double, development_grant double, vat_compensation double,
    total double);
create table marts.reimbursement_person_monthly (
    month varchar, person_key varchar, vardcentral_hsa_id varchar, sex varchar, age integer,
    age_band varchar, capitation_band varchar, capitation double, acg double, cni double, sabo double);
create table marts.data_quality_monthly (
    month varchar, source varchar, source_file varchar, reason varchar, sha256 varchar, rows_read bigint,
    rows_accepted bigint, rows_quarantined bigint, reason_rows bigint);
create table marts.reimbursement_goals_monthly (
    month varchar, vardcentral_hsa_id varchar, goal_order integer, indicator varchar, profession varchar,
    payout varchar, low double, high double, indicator_value double, fulfilment double, listed_count bigint,
    sek_per_listed_month double, amount double, has_indicator_value boolean);
create table marts.reimbursement_visit_fees_monthly (
    month varchar, vardcentral_hsa_id varchar, contact_type varchar, profession varchar,
    patient_category varchar, contact_count bigint, fee_sek double, amount double, rule_order integer);
"""


def model_rows() -> dict[str, pd.DataFrame]:
    """raw.model_versions, raw.model_deductions and raw.model_capitation of the one model version (from 2025-01)."""
    return {
        "model_versions": pd.DataFrame([dict(
            version_id=1, valid_from=date(2025, 1, 1), valid_to=None,
            acg_sek_per_weight_year=ACG_SEK_PER_WEIGHT_YEAR, cni_sek_per_listed_year=CNI_SEK_PER_LISTED_YEAR,
            sabo_sek_per_resident_month=SABO_SEK,
            start_grant_sek_per_month=START_GRANT, start_grant_months=12, vat_compensation_pct=VAT_PCT)]),
        "model_deductions": pd.DataFrame([dict(version_id=1, unit_type=unit_type, sek_per_visit=DEDUCTION_SEK)
                                          for unit_type in ("vardcentral", "jour", "digital")]),
        "model_capitation": pd.DataFrame([
            dict(version_id=1, age_from=lo, age_to=None if band.endswith("+") else hi,
                 female_sek_year=float(female), male_sek_year=float(male))
            for lo, hi, band, female, male in CAPITATION]),
    }


def _fee(contact_type: str, profession: str, category: str) -> tuple[float, int]:
    for order, ct, prof, own, other, not_listed in VISIT_FEE_RULES:
        if ct in ("*", contact_type) and prof in ("*", profession):
            return {"own_listed": own, "other_listed": other, "not_listed": not_listed}[category], order
    raise ValueError(contact_type)


def build_rows(months: tuple[str, ...] = MONTHS) -> dict[str, pd.DataFrame]:
    """All mart rows (and raw.listing rows) for the months, as DataFrames keyed by table name."""
    people = _persons()
    out: dict[str, list[dict]] = {t: [] for t in (
        "raw_listing", "indicators_monthly", "listing_monthly", "contacts_monthly", "reimbursement_monthly",
        "reimbursement_person_monthly", "data_quality_monthly", "reimbursement_goals_monthly",
        "reimbursement_visit_fees_monthly")}
    units = {u["hsa_id"]: u for u in UNITS}
    for month in months:
        end = _month_end(month)
        start = end.replace(day=1)
        listed = [p for p in people if p["vc"].get(month)]
        region_ind: dict[tuple, list[float]] = {}

        def indicator(vc, code, sex, profession, num, den, basis, is_count=False, window=None):
            value = num if is_count else (None if not den else num / den)
            suppressed = (0 < num < 20) if is_count else (den is not None and den < 20)
            out["indicators_monthly"].append(dict(
                month=month, vardcentral_hsa_id=vc, indicator_code=code, sex=sex, profession=profession,
                numerator=float(num), denominator=None if is_count else float(den), value=value,
                is_suppressed=bool(suppressed), window_months=window, unit_basis=basis))
            if vc != "REGION":
                acc = region_ind.setdefault((code, sex, profession, basis, is_count, window), [0.0, 0.0])
                acc[0] += num
                acc[1] += den or 0

        for vc in OPEN_VCS:
            mine = [p for p in listed if p["vc"][month] == vc]
            unit = units[vc]
            # persons, raw listing, listing_monthly
            bands: dict[tuple[str, str], dict] = {}
            cap = acg = cni = sabo = 0.0
            for p in mine:
                age = _age(p["birth_date"], end)
                band, female, male = _band(age)
                p_cap = (female if p["sex"] == "female" else male) / 12
                p_acg = (p["acg_weight"] if p["acg_weight"] is not None else 1.0) * ACG_SEK_PER_WEIGHT_YEAR / 12
                p_cni = CNI_SEK_PER_LISTED_YEAR / 12 * DESO_CNI.get(p["deso"], 1.0)
                p_sabo = SABO_SEK if p["is_sabo"] else 0.0
                cap, acg, cni, sabo = cap + p_cap, acg + p_acg, cni + p_cni, sabo + p_sabo
                out["reimbursement_person_monthly"].append(dict(
                    month=month, person_key=p["person_key"], vardcentral_hsa_id=vc, sex=p["sex"], age=age,
                    age_band=band, capitation_band=band, capitation=p_cap, acg=p_acg, cni=p_cni, sabo=p_sabo))
                out["raw_listing"].append(dict(
                    month=month, person_key=p["person_key"], sex=p["sex"], birth_date=p["birth_date"],
                    vardcentral_hsa_id=vc, listed_from=p["listed_from"], listing_type=p["listing_type"],
                    fast_lakare_hsa_id="SE2321000016-L001" if p["fast_lakare"] else None,
                    is_sabo=p["is_sabo"], deso=p["deso"], source_file=f"{month}/listing.csv",
                    source_line=p["idx"] + 1))
                b = bands.setdefault((band, p["sex"]), dict(listed_count=0, aktiv_count=0, passiv_count=0,
                                                            new_listings=0, sabo_count=0, fast_lakare_count=0))
                b["listed_count"] += 1
                b["aktiv_count" if p["listing_type"] == "aktiv" else "passiv_count"] += 1
                b["new_listings"] += int(start <= p["listed_from"] <= end)
                b["sabo_count"] += int(p["is_sabo"])
                b["fast_lakare_count"] += int(p["fast_lakare"])
            for (band, sex), counts in sorted(bands.items()):
                out["listing_monthly"].append(dict(month=month, vardcentral_hsa_id=vc, age_band=band, sex=sex, **counts))

            # indicators (listing-based)
            for sex in ("all", "female", "male"):
                group = [p for p in mine if sex == "all" or p["sex"] == sex]
                indicator(vc, "listed_count", sex, "all", len(group), None, "listing", is_count=True)
                indicator(vc, "fast_lakare_share", sex, "all", sum(p["fast_lakare"] for p in group), len(group), "listing")
                indicator(vc, "continuity_doctor", sex, "all", 0.5 * len(group), len(group), "listing", window=2)
            (ph_n, ph_d), (as_n, as_d) = GOAL_INPUTS[(month, vc)]
            indicator(vc, "phone_same_day_share", "all", "all", ph_n, ph_d, "performing")
            for prof in ("all", "lakare"):
                indicator(vc, "assessment_3d_share", "all", prof, as_n, as_d, "performing")

            # goals
            goal_total = 0.0
            for order, code, prof, payout, low, high, sek in GOALS:
                num, den = (ph_n, ph_d) if code == "phone_same_day_share" else (as_n, as_d)
                value = num / den
                if payout == "all_or_nothing":
                    fulfil = 1.0 if value >= high else 0.0
                else:
                    fulfil = min(1.0, max(0.0, (value - low) / (high - low)))
                amount = len(mine) * sek * fulfil
                goal_total += amount
                out["reimbursement_goals_monthly"].append(dict(
                    month=month, vardcentral_hsa_id=vc, goal_order=order, indicator=code, profession=prof,
                    payout=payout, low=low, high=high, indicator_value=value, fulfilment=fulfil,
                    listed_count=len(mine), sek_per_listed_month=sek, amount=amount, has_indicator_value=True))

            # contacts and visit fees
            fees = 0.0
            for m, cvc, ct, prof, cat, n in CONTACTS:
                if m != month or cvc != vc:
                    continue
                fee, rule = _fee(ct, prof, cat)
                fees += fee * n
                out["contacts_monthly"].append(dict(month=month, vardcentral_hsa_id=vc, contact_type=ct,
                                                    profession=prof, patient_category=cat,
                                                    unit_type="vardcentral", contact_count=n))
                out["reimbursement_visit_fees_monthly"].append(dict(
                    month=month, vardcentral_hsa_id=vc, contact_type=ct, profession=prof, patient_category=cat,
                    contact_count=n, fee_sek=fee, amount=fee * n, rule_order=rule))
            elsewhere = VISITS_ELSEWHERE[(month, vc)]
            deduction = -DEDUCTION_SEK * elsewhere
            indicator(vc, "visits_elsewhere", "all", "all", elsewhere, 20, "listing")

            months_open = (end.year - unit["opened_on"].year) * 12 + end.month - unit["opened_on"].month + 1
            start_grant = START_GRANT if months_open <= 12 else 0.0
            pot = DEVELOPMENT_POT.get(month)
            if pot and vc in (VC_A, VC_C):
                both = sum(1 for p in listed if p["vc"][month] in (VC_A, VC_C))
                development = pot * len(mine) / both
            else:
                development = 0.0
            geography = GEOGRAPHY[unit["rural_tier"]]
            subtotal = cap + acg + cni + geography + sabo + fees + deduction + goal_total + start_grant + development
            vat = subtotal * VAT_PCT / 100 if unit["owner_type"] == "privat" else 0.0
            out["reimbursement_monthly"].append(dict(
                month=month, vardcentral_hsa_id=vc, owner_type=unit["owner_type"], model_version_id=1,
                model_valid_from=date(2025, 1, 1), listed_count=len(mine), capitation=cap, acg=acg, cni=cni,
                geography=geography, sabo=sabo, visit_fees=fees, visits_elsewhere_deduction=deduction,
                goal_payment=goal_total, start_grant=start_grant, extra_assignments=0.0,
                development_grant=development,
                vat_compensation=vat, total=subtotal + vat))

        for (code, sex, prof, basis, is_count, window), (num, den) in region_ind.items():
            indicator("REGION", code, sex, prof, num, None if is_count else den, basis, is_count=is_count,
                      window=window)

        n_listed = len(listed)
        out["data_quality_monthly"] += [
            dict(month=month, source="listing", source_file=f"{month}/listing.csv",
                 reason="invalid check digit", sha256=hashlib.sha256(f"l{month}".encode()).hexdigest(),
                 rows_read=n_listed + 1, rows_accepted=n_listed, rows_quarantined=1, reason_rows=1),
            dict(month=month, source="telephony", source_file=f"{month}/telephony.csv", reason=None,
                 sha256=hashlib.sha256(f"t{month}".encode()).hexdigest(), rows_read=120, rows_accepted=120,
                 rows_quarantined=0, reason_rows=None),
            dict(month=month, source="visits", source_file=f"{month}/visits.csv", reason=None,
                 sha256=hashlib.sha256(f"v{month}".encode()).hexdigest(), rows_read=80, rows_accepted=80,
                 rows_quarantined=0, reason_rows=None),
        ]
    return {t: pd.DataFrame(rows) for t, rows in out.items()}


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    con.register("rows_in", frame[columns])
    con.execute(f"insert into {table} select * from rows_in")
    con.unregister("rows_in")


MODEL_DDL = """
create schema if not exists staging;
create table staging.stg_model__versions (
    version_id integer, valid_from date, valid_to date, acg_sek_per_weight_year double,
    cni_sek_per_listed_year double, sabo_sek_per_resident_month double, visits_elsewhere_deduction_sek double,
    start_grant_sek_per_month double, start_grant_months integer, vat_compensation_pct double);
create table staging.stg_model__capitation (
    version_id integer, age_from integer, age_to integer, female_sek_year double, male_sek_year double);
create table staging.stg_model__geography (version_id integer, rural_tier integer, sek_per_month double);
create table staging.stg_reference__development_grants (payout_month varchar, pot_sek double, hsa_id varchar);
create table marts.reimbursement_exceptions_monthly (
    month varchar, vardcentral_hsa_id varchar, exception varchar, item_count bigint);
"""


def _model_rows(months: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The model's rates (staging tables of the warehouse) and the exceptions mart, from the constants."""
    people = _persons()
    exceptions = []
    for month in months:
        for vc in OPEN_VCS:
            mine = [p for p in people if p["vc"].get(month) == vc]
            no_weight = sum(1 for p in mine if p["acg_weight"] is None)
            unknown = sum(1 for p in mine if p["deso"] not in DESO_CNI)
            for exception, n in (("acg_weight_missing", no_weight), ("cni_area_unknown", unknown)):
                if n:
                    exceptions.append(dict(month=month, vardcentral_hsa_id=vc, exception=exception, item_count=n))
    return {
        "staging.stg_model__versions": pd.DataFrame([dict(
            version_id=1, valid_from=date(2025, 1, 1), valid_to=None, acg_sek_per_weight_year=ACG_SEK_PER_WEIGHT_YEAR,
            cni_sek_per_listed_year=CNI_SEK_PER_LISTED_YEAR, sabo_sek_per_resident_month=SABO_SEK,
            visits_elsewhere_deduction_sek=DEDUCTION_SEK, start_grant_sek_per_month=START_GRANT,
            start_grant_months=12, vat_compensation_pct=VAT_PCT)]),
        "staging.stg_model__capitation": pd.DataFrame([dict(
            version_id=1, age_from=lo, age_to=None if hi >= 200 else hi, female_sek_year=f, male_sek_year=m)
            for lo, hi, _, f, m in CAPITATION]),
        "staging.stg_model__geography": pd.DataFrame([dict(version_id=1, rural_tier=t, sek_per_month=v)
                                                      for t, v in GEOGRAPHY.items()]),
        "staging.stg_reference__development_grants": pd.DataFrame([dict(payout_month=m, pot_sek=pot, hsa_id=vc)
                                                                   for m, pot in DEVELOPMENT_POT.items()
                                                                   for vc in (VC_A, VC_C)]),
        "marts.reimbursement_exceptions_monthly": pd.DataFrame(exceptions),
    }


def build_marts_warehouse(data_dir: Path, months: tuple[str, ...] = MONTHS,
                          supporting: bool = True) -> Path:
    """Create <data_dir>/warehouse.duckdb with raw.listing, raw.vardcentraler, the marts and the
    model's rates (staging.stg_model__*); `supporting=False` leaves out the goal, visit-fee and
    exception marts and the model tables (a published.duckdb-like source)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "warehouse.duckdb"
    rows = build_rows(months)
    with connect(path) as con:
        ensure_schema(con)
        con.execute(MART_DDL)
        if not supporting:
            con.execute("drop table marts.reimbursement_goals_monthly")
            con.execute("drop table marts.reimbursement_visit_fees_monthly")
        units = pd.DataFrame(UNITS)
        _insert(con, "raw.vardcentraler", units.copy())
        for table, frame in model_rows().items():
            _insert(con, f"raw.{table}", frame)
        _insert(con, "marts.vardcentraler", units.copy())
        _insert(con, "raw.listing", rows.pop("raw_listing"))
        for table, frame in rows.items():
            if supporting or table not in ("reimbursement_goals_monthly", "reimbursement_visit_fees_monthly"):
                _insert(con, f"marts.{table}", frame)
        if supporting:
            con.execute(MODEL_DDL)
            for table, frame in _model_rows(months).items():
                _insert(con, table, frame)
        con.execute("checkpoint")
    return path


def execute(path: Path, *statements: str) -> None:
    """Run SQL against the fixture warehouse (to break it on purpose)."""
    with connect(path) as con:
        for sql in statements:
            con.execute(sql)
        con.execute("checkpoint")


def query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).df()
