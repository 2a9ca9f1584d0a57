"""Listing register (listningsregistret): `<landing>/<YYYY-MM>/listing.csv` or `listing.xlsx`.

Promises downstream `raw.listing`'s columns in the DDL's order: month, person_key, sex,
birth_date, vardcentral_hsa_id, listed_from, listing_type, fast_lakare_hsa_id, is_sabo, deso,
source_file (e.g. 'listing.xlsx'), source_line. One row per person; every person has a valid
personnummer (sex and birth date from it), is listed at an open `vardcentral` and was listed
no later than the month's last day. Rows that break the contract
(`validations/contracts/listing.py`, applied by `validations/intake.py`) go to `IngestResult.quarantine` with line, column, reason
and a masked personnummer; the personnummer itself never leaves this module.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.pseudonym import pseudonymise_column
from sources.reading import RawTable, locate, read_table

SOURCE = "listing"
FILE_COLUMNS = ["personnummer", "vardcentral_hsa_id", "listed_from", "listing_type",
                "fast_lakare_hsa_id", "sabo", "deso"]
ACCEPTED_COLUMNS = ["month", "person_key", "sex", "birth_date", "vardcentral_hsa_id",
                    "listed_from", "listing_type", "fast_lakare_hsa_id", "is_sabo", "deso",
                    "source_file", "source_line"]


def read_listing_file(landing_dir: Path, month: str) -> RawTable:
    """The month's delivery split into lines and fields, text only (index = source line)."""
    return read_table(locate(landing_dir, month, SOURCE, formats=("csv", "xlsx")),
                      FILE_COLUMNS, pii_columns=("personnummer",))


def accepted_rows(valid: pd.DataFrame, month: str, key: bytes, file_name: str) -> pd.DataFrame:
    """The rows the contract accepted, shaped as `raw.listing` (identity numbers replaced by person_key)."""
    valid = valid.reset_index()  # the index is the source line
    return valid.assign(
        month=month,
        person_key=pseudonymise_column(valid["personnummer"], key),
        sex=valid["sex"].astype("str"),
        is_sabo=valid["sabo"].astype(bool),
        source_file=file_name,
    )[ACCEPTED_COLUMNS]
