"""Listing register (listningsregistret): `<landing>/<YYYY-MM>/listing.csv` or `listing.xlsx`.

Promises downstream `raw.listing`'s columns in the DDL's order: month, person_key, sex,
birth_date, vardcentral_hsa_id, listed_from, listing_type, fast_lakare_hsa_id, is_sabo, deso,
source_file (e.g. 'listing.xlsx'), source_line. One row per person; every person has a valid
personnummer (sex and birth date from it), is listed at an open `vardcentral` and was listed
no later than the month's last day. Rows that break the contract
(`validations/contracts/listing.py`) go to `IngestResult.quarantine` with line, column, reason
and a masked personnummer; the personnummer itself never leaves this module.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.pseudonym import pseudonymise_column
from sources.reading import IngestResult, locate, quarantine_frame, read_table
from validations.contracts import listing as contract

SOURCE = "listing"
ACCEPTED_COLUMNS = ["month", "person_key", "sex", "birth_date", "vardcentral_hsa_id",
                    "listed_from", "listing_type", "fast_lakare_hsa_id", "is_sabo", "deso",
                    "source_file", "source_line"]


def read_listing(landing_dir: Path, month: str, units: pd.DataFrame, key: bytes) -> IngestResult:
    path = locate(landing_dir, month, SOURCE, formats=("csv", "xlsx"))
    table = read_table(path, contract.COLUMNS, pii_columns=("personnummer",))
    checked = contract.validate(table.frame, month, units)
    valid = checked.valid.reset_index()  # the index is the source line
    accepted = valid.assign(
        month=month,
        person_key=pseudonymise_column(valid["personnummer"], key),
        sex=valid["sex"].astype("str"),
        is_sabo=valid["sabo"].astype(bool),
        source_file=table.file.name,
    )[ACCEPTED_COLUMNS]
    findings = pd.concat([table.bad_lines, checked.findings], ignore_index=True)
    return IngestResult(source=SOURCE, month=month, file=table.file, rows_read=table.rows_read,
                        accepted=accepted,
                        quarantine=quarantine_frame(findings, month, SOURCE, table.file.name))
