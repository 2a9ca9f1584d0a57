"""Callback telephony system: `<landing>/<YYYY-MM>/telephony.csv`.

Promises downstream `raw.telephony`'s columns in the DDL's order: month, call_id,
vardcentral_hsa_id (any registered unit, open on the day called), called_at (local time,
inside the month), queue, outcome, callback_at (present for callback_* outcomes and not
before called_at), is_in_opening_hours, source_file, source_line. call_id is unique within
the file (across months: the orchestration, via `IngestResult.move_to_quarantine`). Rows that
break the contract (`validations/contracts/telephony.py`) go to `IngestResult.quarantine` with
line, column and reason. No personal data in this source.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.reading import IngestResult, locate, quarantine_frame, read_table
from validations.contracts import telephony as contract

SOURCE = "telephony"
ACCEPTED_COLUMNS = ["month", "call_id", "vardcentral_hsa_id", "called_at", "queue", "outcome",
                    "callback_at", "is_in_opening_hours", "source_file", "source_line"]


def read_telephony(landing_dir: Path, month: str, units: pd.DataFrame) -> IngestResult:
    path = locate(landing_dir, month, SOURCE)
    table = read_table(path, contract.COLUMNS)
    checked = contract.validate(table.frame, month, units)
    valid = checked.valid.reset_index()  # the index is the source line
    accepted = valid.assign(
        month=month,
        is_in_opening_hours=valid["in_opening_hours"].astype(bool),
        source_file=table.file.name,
    )[ACCEPTED_COLUMNS]
    findings = pd.concat([table.bad_lines, checked.findings], ignore_index=True)
    return IngestResult(source=SOURCE, month=month, file=table.file, rows_read=table.rows_read,
                        accepted=accepted,
                        quarantine=quarantine_frame(findings, month, SOURCE, table.file.name))
