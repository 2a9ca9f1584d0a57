"""Callback telephony system: `<landing>/<YYYY-MM>/telephony.csv`.

Promises downstream `raw.telephony`'s columns in the DDL's order: month, call_id,
vardcentral_hsa_id (any registered unit, open on the day called), called_at (local time,
inside the month), queue, outcome, callback_at (present for callback_* outcomes and not
before called_at), is_in_opening_hours, source_file, source_line. call_id is unique within
the file (across months: the orchestration, via `IngestResult.move_to_quarantine`). Rows that
break the contract (`validations/contracts/telephony.py`, applied by `validations/intake.py`) go to `IngestResult.quarantine` with
line, column and reason. No personal data in this source.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.reading import RawTable, locate, read_table

SOURCE = "telephony"
FILE_COLUMNS = ["call_id", "vardcentral_hsa_id", "called_at", "queue", "outcome", "callback_at",
                "in_opening_hours"]
ACCEPTED_COLUMNS = ["month", "call_id", "vardcentral_hsa_id", "called_at", "queue", "outcome",
                    "callback_at", "is_in_opening_hours", "source_file", "source_line"]


def read_telephony_file(landing_dir: Path, month: str) -> RawTable:
    """The month's delivery split into lines and fields, text only (index = source line)."""
    return read_table(locate(landing_dir, month, SOURCE), FILE_COLUMNS)


def accepted_rows(valid: pd.DataFrame, month: str, file_name: str) -> pd.DataFrame:
    """The rows the contract accepted, shaped as `raw.telephony`."""
    valid = valid.reset_index()  # the index is the source line
    return valid.assign(
        month=month,
        is_in_opening_hours=valid["in_opening_hours"].astype(bool),
        source_file=file_name,
    )[ACCEPTED_COLUMNS]
