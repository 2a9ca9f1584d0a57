"""Month keys ('YYYY-MM') and the monthly partitions every asset shares."""
from __future__ import annotations

import calendar
import datetime as dt

import dagster as dg

from orchestration.settings import get_settings


TIMEZONE = "Europe/Stockholm"   # the region's months, and the schedule, in Swedish time (SPEC §9)


def monthly_partitions() -> dg.MonthlyPartitionsDefinition:
    first = get_settings().first_month
    # end_offset=0: the current month appears only once it has ended (in Swedish time). The
    # schedule built from the job runs in the partitions' timezone.
    return dg.MonthlyPartitionsDefinition(start_date=first, fmt="%Y-%m", timezone=TIMEZONE)


def month_range(first: str, last: str) -> list[str]:
    """Inclusive list of month keys."""
    year, month = map(int, first.split("-"))
    end_year, end_month = map(int, last.split("-"))
    if (year, month) > (end_year, end_month):
        raise ValueError(f"month range {first}..{last} is empty")
    months = []
    while (year, month) <= (end_year, end_month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def shift_month(month: str, delta: int) -> str:
    year, mon = map(int, month.split("-"))
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    year, mon = map(int, month.split("-"))
    return dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])


def validate_month(text: str) -> str:
    try:
        dt.datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise ValueError(f"'{text}' is not a month: use YYYY-MM, e.g. 2025-03") from None
    return text
