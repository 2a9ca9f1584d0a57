"""Contract of `visits.csv` (SPEC §3.3): the month's contacts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from core import vocabulary
from sources import visits
from sources.personnummer import INVALID, RESERVE, classify
from sources.registry_history import units_in_month
from validations.contracts import (
    VALUE,
    Checked,
    Findings,
    allowed,
    check_unique,
    check_units,
    finish,
    lower,
    month_timestamps,
    parse_bools,
    parse_dates,
    run_schema,
)

COLUMNS = visits.FILE_COLUMNS
CONTACT_TYPES = vocabulary.CONTACT_TYPES
PROFESSIONS = vocabulary.PROFESSIONS
STATUSES = vocabulary.STATUSES


def schema(month: str) -> pa.DataFrameSchema:
    first, last = month_timestamps(month)
    text = dict(dtype=str, nullable=False)
    return pa.DataFrameSchema(
        {
            "contact_id": pa.Column(**text),
            "personnummer": pa.Column(**text),
            "vardcentral_hsa_id": pa.Column(**text),
            "contact_date": pa.Column("datetime64[s]", pa.Check.in_range(
                first, last, error=f"contact_date {VALUE} outside month {month}"),
                nullable=False),
            "contact_type": pa.Column(str, allowed("contact_type", CONTACT_TYPES),
                                      nullable=False),
            "profession": pa.Column(str, allowed("profession", PROFESSIONS), nullable=False),
            "staff_hsa_id": pa.Column(str, nullable=True),
            "status": pa.Column(str, allowed("status", STATUSES), nullable=False),
            "new_problem": pa.Column("boolean", nullable=False),
            "first_contact_date": pa.Column("datetime64[s]", nullable=True),
            "patient_chose_later": pa.Column("boolean", nullable=False),
        },
        name=f"visits {month}",
    )


def validate(text: pd.DataFrame, month: str, units: pd.DataFrame) -> Checked:
    """The valid rows come back typed, with `person_id` (the 12-digit number, or the stripped
    reserve number), `person_id_kind`, `sex` and `birth_date`."""
    findings = Findings(text)
    units = units_in_month(units, month)  # the registry as it was at the month's end
    typed = pd.DataFrame({
        "contact_id": text["contact_id"],
        "personnummer": text["personnummer"],
        "vardcentral_hsa_id": text["vardcentral_hsa_id"],
        "contact_date": parse_dates(text["contact_date"], findings, "contact_date"),
        "contact_type": lower(text["contact_type"]),
        "profession": lower(text["profession"]),
        "staff_hsa_id": text["staff_hsa_id"],
        "status": lower(text["status"]),
        "new_problem": parse_bools(text["new_problem"], findings, "new_problem"),
        "first_contact_date": parse_dates(text["first_contact_date"], findings,
                                          "first_contact_date"),
        "patient_chose_later": parse_bools(text["patient_chose_later"], findings,
                                           "patient_chose_later"),
    }, index=text.index)
    run_schema(schema(month), typed, findings)

    ids = classify(text["personnummer"])
    given = text["personnummer"].notna()
    # a 12-digit value must be valid; say which kind it claims to be (day + 60: coordination)
    def invalid_id(hit):
        day = ids["normalized"][hit].str.slice(6, 8).astype("float")
        return (np.where(day > 60, "invalid samordningsnummer: ", "invalid personnummer: ")
                + ids["invalid_reason"][hit].to_numpy(dtype=object))
    findings.add(given & (ids["kind"] == INVALID), "personnummer", invalid_id)
    # pseudonymise() hashes ASCII; a reserve number outside ASCII cannot be keyed
    findings.add(given & (ids["kind"] == RESERVE)
                 & ~text["personnummer"].str.match(r"^[\x00-\x7f]*$").fillna(True),
                 "personnummer", "invalid reserve number: characters outside ASCII")
    check_unique(findings, text["contact_id"], "contact_id", "duplicate contact_id")
    check_units(findings, text["vardcentral_hsa_id"], typed["contact_date"], units)

    first, seen = typed["first_contact_date"], typed["contact_date"]
    findings.add(typed["new_problem"].fillna(False) & text["first_contact_date"].isna(),
                 "first_contact_date", "first_contact_date missing for a new_problem contact")
    findings.add((first > seen).fillna(False), "first_contact_date",
                 lambda hit: "first_contact_date " + text["first_contact_date"][hit]
                 + " after contact_date " + text["contact_date"][hit])

    typed["person_id"] = ids["normalized"].fillna(text["personnummer"])
    typed["person_id_kind"] = ids["kind"]
    typed["sex"] = ids["sex"]
    typed["birth_date"] = ids["birth_date"]
    return finish(typed.drop(columns="personnummer"), findings)
