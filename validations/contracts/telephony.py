"""Contract of `telephony.csv` (SPEC §3.4): calls to the callback system in the month."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from core import vocabulary
from sources import telephony
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
    parse_timestamps,
    run_schema,
)

COLUMNS = telephony.FILE_COLUMNS
QUEUES = vocabulary.QUEUES
OUTCOMES = vocabulary.CALL_OUTCOMES
CALLBACK_OUTCOMES = ("callback_done", "callback_no_answer")


def schema(month: str) -> pa.DataFrameSchema:
    first, last = month_timestamps(month)
    end = last + pd.Timedelta(days=1)  # called_at is a timestamp: the whole last day counts
    text = dict(dtype=str, nullable=False)
    return pa.DataFrameSchema(
        {
            "call_id": pa.Column(**text),
            "vardcentral_hsa_id": pa.Column(**text),
            "called_at": pa.Column("datetime64[us]", [
                pa.Check.ge(first, error=f"called_at {VALUE} outside month {month}"),
                pa.Check.lt(end, error=f"called_at {VALUE} outside month {month}")],
                nullable=False),
            "queue": pa.Column(str, allowed("queue", QUEUES), nullable=False),
            "outcome": pa.Column(str, allowed("outcome", OUTCOMES), nullable=False),
            "callback_at": pa.Column("datetime64[us]", nullable=True),
            "in_opening_hours": pa.Column("boolean", nullable=False),
        },
        name=f"telephony {month}",
    )


def validate(text: pd.DataFrame, month: str, units: pd.DataFrame) -> Checked:
    findings = Findings(text)
    units = units_in_month(units, month)  # the registry as it was at the month's end
    typed = pd.DataFrame({
        "call_id": text["call_id"],
        "vardcentral_hsa_id": text["vardcentral_hsa_id"],
        "called_at": parse_timestamps(text["called_at"], findings, "called_at"),
        "queue": lower(text["queue"]),
        "outcome": lower(text["outcome"]),
        "callback_at": parse_timestamps(text["callback_at"], findings, "callback_at"),
        "in_opening_hours": parse_bools(text["in_opening_hours"], findings,
                                        "in_opening_hours"),
    }, index=text.index)
    run_schema(schema(month), typed, findings)

    check_unique(findings, text["call_id"], "call_id", "duplicate call_id")
    check_units(findings, text["vardcentral_hsa_id"], typed["called_at"].dt.normalize(), units)
    is_callback = typed["outcome"].isin(CALLBACK_OUTCOMES)
    findings.add(is_callback & text["callback_at"].isna(), "callback_at",
                 lambda hit: "callback_at missing for outcome " + typed["outcome"][hit])
    findings.add((typed["callback_at"] < typed["called_at"]).fillna(False), "callback_at",
                 lambda hit: "callback_at " + text["callback_at"][hit] + " before called_at "
                 + text["called_at"][hit])
    return finish(typed, findings)
