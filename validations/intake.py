"""A delivery from file to accepted rows and quarantine: the source's reader (`sources/`), its
contract (`validations/contracts/`), and the accepted rows shaped as `raw.<source>`.

Every line of the file ends up in exactly one of `IngestResult.accepted` and
`IngestResult.quarantine` (a line the reader could not split, or a row with any finding).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources import listing, telephony, visits
from sources.reading import IngestResult, RawTable, quarantine_frame
from validations.contracts import listing as listing_contract
from validations.contracts import telephony as telephony_contract
from validations.contracts import visits as visits_contract


def _result(source: str, month: str, table: RawTable, findings: pd.DataFrame,
            accepted: pd.DataFrame) -> IngestResult:
    found = pd.concat([table.bad_lines, findings], ignore_index=True)
    return IngestResult(source=source, month=month, file=table.file, rows_read=table.rows_read,
                        accepted=accepted, quarantine=quarantine_frame(found, month, source, table.file.name))


def read_listing(landing_dir: Path, month: str, units: pd.DataFrame, key: bytes) -> IngestResult:
    table = listing.read_listing_file(landing_dir, month)
    checked = listing_contract.validate(table.frame, month, units)
    return _result(listing.SOURCE, month, table, checked.findings,
                   listing.accepted_rows(checked.valid, month, key, table.file.name))


def read_visits(landing_dir: Path, month: str, units: pd.DataFrame, key: bytes) -> IngestResult:
    table = visits.read_visits_file(landing_dir, month)
    checked = visits_contract.validate(table.frame, month, units)
    return _result(visits.SOURCE, month, table, checked.findings,
                   visits.accepted_rows(checked.valid, month, key, table.file.name))


def read_telephony(landing_dir: Path, month: str, units: pd.DataFrame) -> IngestResult:
    table = telephony.read_telephony_file(landing_dir, month)
    checked = telephony_contract.validate(table.frame, month, units)
    return _result(telephony.SOURCE, month, table, checked.findings,
                   telephony.accepted_rows(checked.valid, month, table.file.name))
