"""Month keys ('YYYY-MM'): the one home of what a month is, its days, and its neighbours."""
from __future__ import annotations

import calendar
import datetime as dt
import re

TIMEZONE = "Europe/Stockholm"   # the region's months, and the schedule, in Swedish time (SPEC §9)
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(text: str) -> str:
    """The month key itself, or a ValueError a user can act on."""
    if not isinstance(text, str) or not MONTH_RE.match(text):
        raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2025-03")
    return text


def month_range(first: str, last: str) -> list[str]:
    """Inclusive list of month keys."""
    year, month = map(int, check_month(first).split("-"))
    end_year, end_month = map(int, check_month(last).split("-"))
    if (year, month) > (end_year, end_month):
        raise ValueError(f"month range {first}..{last} is empty")
    months = []
    while (year, month) <= (end_year, end_month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def shift_month(month: str, delta: int) -> str:
    year, mon = map(int, check_month(month).split("-"))
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_month(month: str) -> str:
    return shift_month(month, -1)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of the month."""
    year, mon = map(int, check_month(month).split("-"))
    return dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])


def month_bounds_iso(month: str) -> tuple[str, str]:
    """First and last day of the month as ISO strings, for SQL literals."""
    first, last = month_bounds(month)
    return first.isoformat(), last.isoformat()
