"""The registry as it was in a month (SPEC §3.5).

A unit may have several rows of `vardcentraler.csv` with disjoint `valid_from`..`valid_to`
(inclusive dates, empty = open). A month uses, for every unit, the row valid on the month's
last day, for everything (open VCs, a filial's parent, owner type, rural tier, cap); a unit
without such a row is not in the registry that month. dbt applies the same rule with the
macro `registry_row_valid` (dbt_project/macros/registry_history.sql).
"""
from __future__ import annotations

import pandas as pd


def month_end(month: str) -> pd.Timestamp:
    return pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0)


def units_valid_on(units: pd.DataFrame, day) -> pd.DataFrame:
    """The rows valid on `day`: one per unit in the registry that day."""
    if "valid_from" not in units.columns:   # a registry without history: every row always valid
        return units
    day = pd.Timestamp(day)
    valid_from = pd.to_datetime(units["valid_from"])
    valid_to = pd.to_datetime(units["valid_to"])
    holds = (valid_from.isna() | (valid_from <= day)) & (valid_to.isna() | (valid_to >= day))
    return units[holds.to_numpy()].reset_index(drop=True)


def units_in_month(units: pd.DataFrame, month: str) -> pd.DataFrame:
    """The registry of a month ('YYYY-MM'): the rows valid on its last day."""
    return units_valid_on(units, month_end(month))
