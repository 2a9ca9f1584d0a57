"""Journal system contacts: `<landing>/<YYYY-MM>/visits.csv`.

Promises downstream `raw.visits`'s columns in the DDL's order: month, contact_id, person_key,
person_id_kind ('personnummer' | 'samordningsnummer' | 'reserve'), sex, birth_date (both null
for reserve numbers), vardcentral_hsa_id (the performing unit as delivered, any registered
unit type, open on contact_date), contact_date (inside the month), contact_type, profession,
staff_hsa_id, status, is_new_problem, first_contact_date, is_patient_chose_later, source_file,
source_line. contact_id is unique within the file (uniqueness across months is checked by the
orchestration with `IngestResult.move_to_quarantine`). Rows that break the contract
(`validations/contracts/visits.py`, applied by `validations/intake.py`) go to `IngestResult.quarantine` with line, column, reason
and a masked identity number. person_key is the HMAC of the 12-digit number, or of the
stripped reserve number; the raw value never leaves this module.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.pseudonym import pseudonymise_repeated_column
from sources.reading import RawTable, locate, read_table

SOURCE = "visits"
FILE_COLUMNS = ["contact_id", "personnummer", "vardcentral_hsa_id", "contact_date", "contact_type",
                "profession", "staff_hsa_id", "status", "new_problem", "first_contact_date",
                "patient_chose_later"]
ACCEPTED_COLUMNS = ["month", "contact_id", "person_key", "person_id_kind", "sex", "birth_date",
                    "vardcentral_hsa_id", "contact_date", "contact_type", "profession",
                    "staff_hsa_id", "status", "is_new_problem", "first_contact_date",
                    "is_patient_chose_later", "source_file", "source_line"]


def read_visits_file(landing_dir: Path, month: str) -> RawTable:
    """The month's delivery split into lines and fields, text only (index = source line)."""
    return read_table(locate(landing_dir, month, SOURCE),
                      FILE_COLUMNS, pii_columns=("personnummer",))


def accepted_rows(valid: pd.DataFrame, month: str, key: bytes, file_name: str) -> pd.DataFrame:
    """The rows the contract accepted, shaped as `raw.visits` (identity numbers replaced by person_key)."""
    valid = valid.reset_index()  # the index is the source line
    return valid.assign(
        month=month,
        person_key=pseudonymise_repeated_column(valid["person_id"], key),
        person_id_kind=valid["person_id_kind"].astype("str"),
        sex=valid["sex"].astype("str"),
        is_new_problem=valid["new_problem"].astype(bool),
        is_patient_chose_later=valid["patient_chose_later"].astype(bool),
        source_file=file_name,
    )[ACCEPTED_COLUMNS]
