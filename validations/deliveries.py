"""The source side of the gate: a month's three deliveries ingested, none over the quarantine limit.

Exhaustive and cheap: it reads the ingestion ledger (raw.source_files, raw.ingest_errors).
"""
from __future__ import annotations

from pathlib import Path

from core import vocabulary
from core.warehouse import connect
from validations.outcome import CheckOutcome

SOURCES = vocabulary.SOURCES


def delivery_outcomes(warehouse_path: Path, month: str, max_share: float) -> list[CheckOutcome]:
    with connect(Path(warehouse_path), read_only=True) as con:
        errors = con.execute("select source, coalesce(source_file, source), message from raw.ingest_errors "
                             "where month = ? order by source", [month]).fetchall()
        files = con.execute("select source, source_file, rows_read, rows_quarantined from raw.source_files "
                            "where month = ? order by source", [month]).fetchall()
    delivered = {row[0]: row for row in files}
    missing = [s for s in SOURCES if s not in delivered and s not in {e[0] for e in errors}]
    # Reader messages already start with the file's name.
    file_problems = [message if message.startswith(str(name)) else f"{name}: {message}"
                     for _, name, message in errors]
    file_problems += [f"{source}: no delivery ingested for {month}" for source in missing]
    over = []
    for source, name, read, quarantined in files:
        share = quarantined / read if read else 0.0
        if share > max_share:
            over.append(f"{name}: {quarantined:,} of {read:,} rows quarantined ({share:.2%}, limit {max_share:.2%})")
    return [
        CheckOutcome(
            name="deliveries_readable", table="raw.source_files", passed=not file_problems, blocking=True,
            description=("; ".join(file_problems) if file_problems
                         else "All three deliveries were read."),
            metadata={"files": {row[0]: row[1] for row in files}, "errors": len(file_problems)},
        ),
        CheckOutcome(
            name="quarantine_within_limit", table="raw.quarantine", passed=not over, blocking=True,
            description=("; ".join(over) if over
                         else f"Quarantined rows are within {max_share:.2%} of every file."),
            metadata={f"{row[0]}_quarantined": int(row[3]) for row in files},
        ),
    ]
