"""Month arithmetic on integer month indices (year * 12 + month - 1) and day numbers (days since 1970-01-01)."""
from __future__ import annotations

import numpy as np


def month_index(month: str) -> int:
    year, mon = month.split("-")
    if len(year) != 4 or not 1 <= int(mon) <= 12:
        raise ValueError(f"not a month 'YYYY-MM': {month!r}")
    return int(year) * 12 + int(mon) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(first: str, last: str) -> list[str]:
    a, b = month_index(first), month_index(last)
    if b < a:
        raise ValueError(f"--to {last} is before --from {first}")
    return [month_label(i) for i in range(a, b + 1)]


def first_day(index: int) -> int:
    return int(np.datetime64(month_label(index), "M").astype("datetime64[D]").astype(np.int64))


def last_day(index: int) -> int:
    return first_day(index + 1) - 1


def day_number(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(np.int64))


def iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day arrays of day numbers."""
    d = np.asarray(days).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def age_on(birth: np.ndarray, day: int) -> np.ndarray:
    """Whole years on `day`; a 29 February birthday falls on 1 March in other years (tuple compare)."""
    by, bm, bd = ymd(birth)
    y, m, d = (int(v[0]) for v in ymd(np.array([day])))
    before = (bm > m) | ((bm == m) & (bd > d))
    return (y - by - before).astype(np.int16)


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday … 6 = Sunday (1970-01-01 was a Thursday)."""
    return (np.asarray(days) + 3) % 7
