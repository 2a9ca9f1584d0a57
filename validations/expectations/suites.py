"""Expectation suites per published mart, as plain data (Great Expectations is imported lazily).

Each entry: (GE expectation class name, kwargs, blocking, what it means in words). The runner
builds `great_expectations.expectations.<class>(**kwargs)` from these and reads outcomes back.

What the suites cover: keys unique and not null, completeness of required columns, accepted
values (sex, profession, patient category, contact type, indicator codes, age bands, unit
and owner types), ranges (shares in [0, 1], counts ≥ 0, amounts finite).
"""
from __future__ import annotations

from typing import Any

SEXES_WITH_ALL = ["all", "female", "male"]
SEXES = ["female", "male"]
PROFESSIONS = ["lakare", "sjukskoterska", "fysioterapeut", "arbetsterapeut", "psykolog", "kurator",
               "dietist", "barnmorska", "fotterapeut", "ovrig"]
CONTACT_TYPES = ["besok", "hembesok", "telefon", "video", "chatt"]
PATIENT_CATEGORIES = ["own_listed", "other_listed", "not_listed"]
AGE_BANDS = ["0-6", "7-19", "20-39", "40-64", "65-74", "75-84", "85+"]
UNIT_TYPES = ["vardcentral", "filial", "jour", "digital"]
OWNER_TYPES = ["offentlig", "privat"]
SOURCES = ["listing", "visits", "telephony"]

COUNT_INDICATORS = ["listed_count", "new_listings", "ended_listings", "relisting_over_limit",
                    "cap_breach_listings"]
SHARE_INDICATORS = ["fast_lakare_share", "fast_lakare_share_sabo", "distance_contact_share",
                    "video_contact_share", "visits_elsewhere", "coverage_ratio", "assessment_3d_share",
                    "assessment_0d_share", "assessment_7d_share", "phone_same_day_share",
                    "continuity_doctor", "continuity_all", "continuity_doctor_sabo", "continuity_all_sabo"]
# Ratios (not in [0, 1]) are checked with the counts: value and numerator >= 0 and finite.
RATIO_INDICATORS = ["listed_per_named_gp"]
INDICATOR_CODES = COUNT_INDICATORS + SHARE_INDICATORS + RATIO_INDICATORS

REIMBURSEMENT_COMPONENTS = ["capitation", "acg", "cni", "geography", "sabo", "visit_fees",
                            "visits_elsewhere_deduction", "goal_payment", "start_grant",
                            "extra_assignments", "development_grant", "vat_compensation"]
PERSON_AMOUNTS = ["capitation", "acg", "cni", "sabo"]
BIG = 1e12  # "finite": GE's between rejects ±inf and NaN counts as missing (caught by not-null)

Entry = tuple[str, dict[str, Any], bool, str]


def _keys(columns: list[str]) -> list[Entry]:
    if len(columns) == 1:
        out: list[Entry] = [("ExpectColumnValuesToBeUnique", {"column": columns[0]}, True,
                             f"one row per {columns[0]}")]
    else:
        out = [("ExpectCompoundColumnsToBeUnique", {"column_list": columns}, True,
                f"one row per {', '.join(columns)}")]
    out += [("ExpectColumnValuesToNotBeNull", {"column": c}, True, f"{c} is filled in") for c in columns]
    return out


def _in_set(column: str, values: list, blocking: bool = True) -> Entry:
    return ("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values}, blocking,
            f"{column} is one of {', '.join(map(str, values))}")


def _between(column: str, low: float | None, high: float | None, what: str) -> Entry:
    return ("ExpectColumnValuesToBeBetween", {"column": column, "min_value": low, "max_value": high}, True,
            f"{column} {what}")


def _filled(column: str) -> Entry:
    return ("ExpectColumnValuesToNotBeNull", {"column": column}, True, f"{column} is filled in")


def indicator_shares() -> list[Entry]:
    """Rows of indicators_monthly whose code is a share (continuity included: COC is in [0, 1])."""
    return [
        *_keys(["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
        _in_set("indicator_code", INDICATOR_CODES),
        _in_set("sex", SEXES_WITH_ALL),
        _in_set("profession", ["all", *PROFESSIONS]),
        _in_set("unit_basis", ["listing", "performing"]),
        _filled("is_suppressed"),
        _between("value", 0, 1, "is a share in [0, 1]"),
        _between("numerator", 0, BIG, "is ≥ 0 and finite"),
        _between("denominator", 0, BIG, "is ≥ 0 and finite"),
        ("ExpectColumnPairValuesAToBeGreaterThanB",
         {"column_A": "denominator", "column_B": "numerator", "or_equal": True,
          "ignore_row_if": "either_value_is_missing"}, True, "numerator ≤ denominator"),
        _between("window_months", 1, 12, "is between 1 and 12 months"),
    ]


def indicator_counts() -> list[Entry]:
    return [
        *_keys(["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
        _in_set("indicator_code", INDICATOR_CODES),
        _in_set("sex", SEXES_WITH_ALL),
        _in_set("profession", ["all", *PROFESSIONS]),
        _filled("is_suppressed"),
        _between("value", 0, BIG, "is a count ≥ 0"),
        _between("numerator", 0, BIG, "is a count ≥ 0"),
    ]


def listing_monthly() -> list[Entry]:
    counts = ["listed_count", "aktiv_count", "passiv_count", "new_listings", "sabo_count", "fast_lakare_count"]
    return [
        *_keys(["month", "vardcentral_hsa_id", "age_band", "sex"]),
        _in_set("age_band", AGE_BANDS),
        _in_set("sex", SEXES),
        *[_filled(c) for c in counts],
        *[_between(c, 0, BIG, "is a count ≥ 0") for c in counts],
    ]


def contacts_monthly() -> list[Entry]:
    return [
        *_keys(["month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"]),
        _in_set("contact_type", CONTACT_TYPES),
        _in_set("profession", PROFESSIONS),
        _in_set("patient_category", PATIENT_CATEGORIES),
        _in_set("unit_type", UNIT_TYPES),
        _filled("contact_count"),
        _between("contact_count", 0, BIG, "is a count ≥ 0"),
    ]


def reimbursement_monthly() -> list[Entry]:
    amounts = [*REIMBURSEMENT_COMPONENTS, "total"]
    out = [
        *_keys(["month", "vardcentral_hsa_id"]),
        _in_set("owner_type", OWNER_TYPES),
        _filled("model_version_id"),
        _filled("listed_count"),
        _between("listed_count", 0, BIG, "is a count ≥ 0"),
        *[_filled(c) for c in amounts],
    ]
    for c in amounts:
        if c == "visits_elsewhere_deduction":
            out.append(_between(c, -BIG, 0, "is a finite amount ≤ 0"))
        elif c == "total":
            out.append(_between(c, -BIG, BIG, "is a finite amount"))
        else:
            out.append(_between(c, 0, BIG, "is a finite amount ≥ 0"))
    return out


def reimbursement_person_sample() -> list[Entry]:
    return [
        *_keys(["month", "person_key"]),
        _filled("vardcentral_hsa_id"),
        _in_set("sex", SEXES),
        _between("age", 0, 130, "is an age between 0 and 130"),
        _in_set("age_band", AGE_BANDS),
        *[_filled(c) for c in PERSON_AMOUNTS],
        *[_between(c, 0, BIG, "is a finite amount ≥ 0") for c in PERSON_AMOUNTS],
    ]


def data_quality_monthly() -> list[Entry]:
    counts = ["rows_read", "rows_accepted", "rows_quarantined"]
    return [
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["month", "source", "source_file", "reason"]}, True,
         "one row per month, source, source_file, reason"),
        *[_filled(c) for c in ["month", "source", "source_file", "sha256", *counts]],
        _in_set("source", SOURCES, blocking=False),
        *[_between(c, 0, BIG, "is a count ≥ 0") for c in [*counts, "reason_rows"]],
    ]


def vardcentraler() -> list[Entry]:
    return [
        *_keys(["hsa_id"]),
        _filled("name"),
        _filled("opened_on"),
        _in_set("unit_type", UNIT_TYPES),
        _in_set("owner_type", OWNER_TYPES),
        _between("rural_tier", 0, 3, "is a rural tier 0–3"),
    ]


# batch name -> (mart, builder, columns that point at a failing row in samples)
SUITES = {
    "indicators_monthly_shares": ("indicators_monthly", indicator_shares,
                                  ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
    "indicators_monthly_counts": ("indicators_monthly", indicator_counts,
                                  ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
    "listing_monthly": ("listing_monthly", listing_monthly, ["vardcentral_hsa_id", "age_band", "sex"]),
    "contacts_monthly": ("contacts_monthly", contacts_monthly,
                         ["vardcentral_hsa_id", "contact_type", "profession", "patient_category"]),
    "reimbursement_monthly": ("reimbursement_monthly", reimbursement_monthly, ["vardcentral_hsa_id"]),
    "reimbursement_person_monthly_sample": ("reimbursement_person_monthly", reimbursement_person_sample,
                                            ["vardcentral_hsa_id", "age_band"]),
    "data_quality_monthly": ("data_quality_monthly", data_quality_monthly, ["source", "source_file"]),
    "vardcentraler": ("vardcentraler", vardcentraler, ["hsa_id"]),
}
