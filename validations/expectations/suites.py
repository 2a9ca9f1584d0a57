"""Expectation suites per published mart, as plain data (Great Expectations is imported lazily).

Each entry: (GE expectation class name, kwargs, blocking, what it means in words). The runner
builds `great_expectations.expectations.<class>(**kwargs)` from these and reads outcomes back.

What the suites cover: keys unique and not null, completeness of required columns, accepted
values (sex, profession, patient category, contact type, indicator codes, reporting and
capitation age bands, unit and owner types), ranges (shares in [0, 1], counts ≥ 0, amounts
finite). Every builder takes the month's `Expected` (validations/expectations/expected.py):
the accepted values come from the warehouse for that month, none is written here.
"""
from __future__ import annotations

from typing import Any

from validations.expectations.expected import Expected

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


def indicator_shares(e: Expected) -> list[Entry]:
    """Rows of indicators_monthly whose code is a share (continuity included: COC is in [0, 1])."""
    return [
        *_keys(["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
        _in_set("indicator_code", list(e.unit_interval_codes)),
        _in_set("sex", list(e.sexes_with_all)),
        _in_set("profession", list(e.indicator_professions)),
        _in_set("unit_basis", list(e.unit_bases)),
        _filled("is_suppressed"),
        _between("value", 0, 1, "is a share in [0, 1]"),
        _between("numerator", 0, BIG, "is ≥ 0 and finite"),
        _between("denominator", 0, BIG, "is ≥ 0 and finite"),
        ("ExpectColumnPairValuesAToBeGreaterThanB",
         {"column_A": "denominator", "column_B": "numerator", "or_equal": True,
          "ignore_row_if": "either_value_is_missing"}, True, "numerator ≤ denominator"),
        _between("window_months", 0, e.max_window_months, f"is between 0 and {e.max_window_months} months"),
    ]


def indicator_counts(e: Expected) -> list[Entry]:
    return [
        *_keys(["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]),
        _in_set("indicator_code", [c for c in e.indicator_codes if c not in e.unit_interval_codes]),
        _in_set("sex", list(e.sexes_with_all)),
        _in_set("profession", list(e.indicator_professions)),
        _filled("is_suppressed"),
        _between("value", 0, BIG, "is ≥ 0 and finite"),
        _between("numerator", 0, BIG, "is a count ≥ 0"),
    ]


def listing_monthly(e: Expected) -> list[Entry]:
    counts = ["listed_count", "aktiv_count", "passiv_count", "new_listings", "sabo_count", "fast_lakare_count"]
    return [
        *_keys(["month", "vardcentral_hsa_id", "age_band", "sex"]),
        _in_set("age_band", list(e.reporting_age_bands)),
        _in_set("sex", list(e.sexes)),
        *[_filled(c) for c in counts],
        *[_between(c, 0, BIG, "is a count ≥ 0") for c in counts],
    ]


def contacts_monthly(e: Expected) -> list[Entry]:
    return [
        *_keys(["month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"]),
        _in_set("contact_type", list(e.contact_types)),
        _in_set("profession", list(e.professions)),
        _in_set("patient_category", list(e.patient_categories)),
        _in_set("unit_type", list(e.unit_types)),
        _filled("contact_count"),
        _between("contact_count", 0, BIG, "is a count ≥ 0"),
    ]


def reimbursement_monthly(e: Expected) -> list[Entry]:
    amounts = [*e.components, "total"]
    out = [
        *_keys(["month", "vardcentral_hsa_id"]),
        _in_set("owner_type", list(e.owner_types)),
        _filled("model_version_id"),
        _filled("listed_count"),
        _between("listed_count", 0, BIG, "is a count ≥ 0"),
        *[_filled(c) for c in amounts],
    ]
    for c in amounts:
        if c in e.deduction_components:
            out.append(_between(c, -BIG, 0, "is a finite amount ≤ 0"))
        elif c == "total":
            out.append(_between(c, -BIG, BIG, "is a finite amount"))
        else:
            out.append(_between(c, 0, BIG, "is a finite amount ≥ 0"))
    return out


def reimbursement_person_sample(e: Expected) -> list[Entry]:
    return [
        *_keys(["month", "person_key"]),
        _filled("vardcentral_hsa_id"),
        _in_set("sex", list(e.sexes)),
        _between("age", 0, 130, "is an age between 0 and 130"),
        _in_set("age_band", list(e.reporting_age_bands)),
        # the bands of the model version that paid the month, whatever they are
        _in_set("capitation_band", list(e.capitation_bands)),
        *[_filled(c) for c in e.person_components],
        *[_between(c, 0, BIG, "is a finite amount ≥ 0") for c in e.person_components],
    ]


def data_quality_monthly(e: Expected) -> list[Entry]:
    counts = ["rows_read", "rows_accepted", "rows_quarantined"]
    return [
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["month", "source", "source_file", "reason"]}, True,
         "one row per month, source, source_file, reason"),
        *[_filled(c) for c in ["month", "source", "source_file", "sha256", *counts]],
        _in_set("source", list(e.sources), blocking=False),
        *[_between(c, 0, BIG, "is a count ≥ 0") for c in [*counts, "reason_rows"]],
    ]


def vardcentraler(e: Expected) -> list[Entry]:
    return [
        # one row per unit and validity period (SPEC §3.5); valid_from is null for a unit
        # without history
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["hsa_id", "valid_from"],
                                             "ignore_row_if": "all_values_are_missing"}, True,
         "one row per hsa_id, valid_from"),
        _filled("hsa_id"),
        _filled("name"),
        _filled("opened_on"),
        _in_set("unit_type", list(e.unit_types)),
        _in_set("owner_type", list(e.owner_types)),
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
                                            ["vardcentral_hsa_id", "age_band", "capitation_band"]),
    "data_quality_monthly": ("data_quality_monthly", data_quality_monthly, ["source", "source_file"]),
    "vardcentraler": ("vardcentraler", vardcentraler, ["hsa_id"]),
}
