"""Journal system contacts: `<landing>/<YYYY-MM>/visits.csv`.

Promises downstream `raw.visits`'s columns in the DDL's order: month, contact_id, person_key,
person_id_kind ('personnummer' | 'samordningsnummer' | 'reserve'), sex, birth_date (both null
for reserve numbers), vardcentral_hsa_id (the performing unit as delivered, any registered
unit type, open on contact_date), contact_date (inside the month), contact_type, profession,
staff_hsa_id, status, is_new_problem, first_contact_date, is_patient_chose_later, source_file,
source_line. contact_id is unique within the file (uniqueness across months is checked by the
orchestration with `IngestResult.move_to_quarantine`). Rows that break the contract
(`validations/contracts/visits.py`) go to `IngestResult.quarantine` with line, column, reason
and a masked identity number. person_key is the HMAC of the 12-digit number, or of the
stripped reserve number; the raw value never leaves this module.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.pseudonym import pseudonymise_repeated_column
from sources.reading import IngestResult, locate, quarantine_frame, read_table
from validations.contracts import visits as contract

SOURCE = "visits"
ACCEPTED_COLUMNS = ["month", "contact_id", "person_key", "person_id_kind", "sex", "birth_date",
                    "vardcentral_hsa_id", "contact_date", "contact_type", "profession",
                    "staff_hsa_id", "status", "is_new_problem", "first_contact_date",
                    "is_patient_chose_later", "source_file", "source_line"]


def read_visits(landing_dir: Path, month: str, units: pd.DataFrame, key: bytes) -> IngestResult:
    path = locate(landing_dir, month, SOURCE)
    table = read_table(path, contract.COLUMNS, pii_columns=("personnummer",))
    checked = contract.validate(table.frame, month, units)
    valid = checked.valid.reset_index()  # the index is the source line
    accepted = valid.assign(
        month=month,
        person_key=pseudonymise_repeated_column(valid["person_id"], key),
        person_id_kind=valid["person_id_kind"].astype("str"),
        sex=valid["sex"].astype("str"),
        is_new_problem=valid["new_problem"].astype(bool),
        is_patient_chose_later=valid["patient_chose_later"].astype(bool),
        source_file=table.file.name,
    )[ACCEPTED_COLUMNS]
    findings = pd.concat([table.bad_lines, checked.findings], ignore_index=True)
    return IngestResult(source=SOURCE, month=month, file=table.file, rows_read=table.rows_read,
                        accepted=accepted,
                        quarantine=quarantine_frame(findings, month, SOURCE, table.file.name))
