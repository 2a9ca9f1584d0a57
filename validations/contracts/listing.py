"""Contract of `listing.*` (SPEC §3.2): the listing register's state at the end of the month."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from core import vocabulary
from sources import listing
from sources.personnummer import SAMORDNINGSNUMMER, classify
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

COLUMNS = listing.FILE_COLUMNS
LISTING_TYPES = vocabulary.LISTING_TYPES


def schema(month: str) -> pa.DataFrameSchema:
    """Per-column rules; the parsed frame has dates as datetime64 and `sabo` as boolean."""
    last_day = month_timestamps(month)[1]
    text = dict(dtype=str, nullable=False)
    return pa.DataFrameSchema(
        {
            "personnummer": pa.Column(**text),
            "vardcentral_hsa_id": pa.Column(**text),
            "listed_from": pa.Column("datetime64[s]", pa.Check.le(
                last_day, error=f"listed_from {VALUE} after the month's last day "
                                f"{last_day:%Y-%m-%d}"), nullable=False),
            "listing_type": pa.Column(str, allowed("listing_type", LISTING_TYPES),
                                      nullable=False),
            "fast_lakare_hsa_id": pa.Column(str, nullable=True),
            "sabo": pa.Column("boolean", nullable=False),
            "deso": pa.Column(str, nullable=True),
        },
        name=f"listing {month}",
    )


def validate(text: pd.DataFrame, month: str, units: pd.DataFrame) -> Checked:
    """`text`: the reader's frame (COLUMNS as text, index = line). The valid rows come back
    typed, with the personnummer normalised to 12 digits and `sex`, `birth_date` derived."""
    findings = Findings(text)
    units = units_in_month(units, month)  # the registry as it was at the month's end
    typed = pd.DataFrame({
        "personnummer": text["personnummer"],
        "vardcentral_hsa_id": text["vardcentral_hsa_id"],
        "listed_from": parse_dates(text["listed_from"], findings, "listed_from"),
        "listing_type": lower(text["listing_type"]),
        "fast_lakare_hsa_id": text["fast_lakare_hsa_id"],
        "sabo": parse_bools(text["sabo"], findings, "sabo"),
        "deso": text["deso"],
    }, index=text.index)
    run_schema(schema(month), typed, findings)

    ids = classify(text["personnummer"])
    kind, given = ids["kind"], text["personnummer"].notna()
    findings.add(given & (kind == "invalid"), "personnummer",
                 lambda hit: "invalid personnummer: " + ids["invalid_reason"][hit])
    findings.add(kind == SAMORDNINGSNUMMER, "personnummer",
                 "invalid personnummer: a samordningsnummer cannot be listed")
    findings.add(given & (kind == "reserve"), "personnummer",
                 "invalid personnummer: not 12 digits (YYYYMMDDNNNC or YYYYMMDD-NNNC)")
    person = ids["normalized"].fillna(text["personnummer"])
    check_unique(findings, person, "personnummer", "duplicate person in snapshot")
    check_units(findings, text["vardcentral_hsa_id"], month_timestamps(month)[1], units,
                unit_types=("vardcentral",))

    typed["personnummer"] = ids["normalized"]
    typed["sex"] = ids["sex"]
    typed["birth_date"] = ids["birth_date"]
    return finish(typed, findings)
