"""Indicators against targets: met, close or missed (statements, region workbook, report).

A target has `high` (the level that counts as met), optionally `low` (where a linear goal
starts paying) and a direction (higher or lower is better; a lower-is-better linear goal has
low > high). Close is between low and high, or, for a target without low, within
CLOSE_MARGIN of high (relative): near enough to ask what the VC is doing about it.
"""
from __future__ import annotations

import math

CLOSE_MARGIN = 0.10


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def direction_of(low, high, declared: str | None = None) -> str:
    if declared in ("higher", "lower"):
        return declared
    return "lower" if not _missing(low) and not _missing(high) and low > high else "higher"


def status(value, low, high, direction: str = "higher") -> str | None:
    """met / close / missed, or None without a value or a target."""
    if _missing(value) or _missing(high):
        return None
    if direction == "lower":
        if value <= high:
            return "met"
        edge = low if not _missing(low) else high * (1 + CLOSE_MARGIN)
        return "close" if value < edge else "missed"
    if value >= high:
        return "met"
    edge = low if not _missing(low) else high * (1 - CLOSE_MARGIN)
    return "close" if value > edge else "missed"


def shortfall(value, high, direction: str = "higher") -> float | None:
    """How far from the target, in the indicator's own unit (positive = short of it)."""
    if _missing(value) or _missing(high):
        return None
    return (high - value) if direction == "higher" else (value - high)
