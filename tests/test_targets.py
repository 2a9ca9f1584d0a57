"""Met / close / missed against a target, in both directions (statements, region workbook, report)."""
from __future__ import annotations

import pytest

from core.labels import format_value, window_note
from orchestration.defs.publication.targets import direction_of, shortfall, status


@pytest.mark.parametrize("value, low, high, direction, expected", [
    (0.95, None, 0.90, "higher", "met"), (0.90, None, 0.90, "higher", "met"),
    (0.82, None, 0.90, "higher", "close"),     # within 10 % of 0.90 (above 0.81)
    (0.80, None, 0.90, "higher", "missed"),
    (0.75, 0.70, 0.90, "higher", "close"),     # between low and high: partly paid
    (0.70, 0.70, 0.90, "higher", "missed"),
    (0.04, 0.15, 0.05, "lower", "met"), (0.10, 0.15, 0.05, "lower", "close"), (0.15, 0.15, 0.05, "lower", "missed"),
    (1050.0, None, 1100.0, "lower", "met"), (1200.0, None, 1100.0, "lower", "close"),
    (1300.0, None, 1100.0, "lower", "missed"),
    (None, None, 0.9, "higher", None), (0.5, None, None, "higher", None),
])
def test_status(value, low, high, direction, expected):
    assert status(value, low, high, direction) == expected


def test_direction_and_shortfall_in_the_indicators_unit():
    assert direction_of(0.15, 0.05) == "lower" and direction_of(0.7, 0.9) == "higher"
    assert direction_of(None, 1100.0, "lower") == "lower" and direction_of(None, 0.9) == "higher"
    assert shortfall(0.7, 0.9) == pytest.approx(0.2) and shortfall(0.10, 0.05, "lower") == pytest.approx(0.05)


def test_units_and_window_notes():
    assert format_value(0.2301, "share") == "23,0 %" and format_value(0.2301, "index") == "0,23"
    assert format_value(1234.0, "count") == "1\u00a0234" and format_value(1101.26, "ratio") == "1\u00a0101,3"
    assert window_note("continuity_doctor", 4) == "4 av 12 månader" and window_note("continuity_doctor", 12) == ""
    assert window_note("coverage_ratio", 3) == "3 av 6 månader" and window_note("listed_count", None) == ""
