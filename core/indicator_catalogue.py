"""The indicator catalogue (SPEC §5, §5.1, §7): one row per indicator code, in
`core/indicator_catalogue.csv`.

Per code: Swedish name, description, unit basis (`listing` | `performing`), value kind
(`share` | `count` | `mean` | `ratio`), period kind for quarters and years (`stock` | `flow` |
`events`, SPEC §5.1), the window that fills `window_months` and its length, whether higher is
better (empty: neither), and whether the code is split by sex and by profession.

It is the one home of the indicator codes: the model's goal validation, the dbt models (through
`raw.indicator_catalogue`, written by `core/warehouse.py`), the expectation suites and
the reconciliations all read it. A new indicator is one new row (and its computation in dbt).
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

CATALOGUE_PATH = Path(__file__).with_name("indicator_catalogue.csv")
COLUMNS = ["indicator_code", "name_sv", "description", "unit_basis", "value_kind", "period_kind",
           "window_kind", "window_months", "higher_is_better", "is_split_by_sex",
           "is_split_by_profession", "sort_order"]
UNIT_BASES = ("listing", "performing")
VALUE_KINDS = ("share", "count", "mean", "ratio")
PERIOD_KINDS = ("stock", "flow", "events")
WINDOW_KINDS = ("ended", "relisting", "coverage", "continuity")
_BOOLEANS = {"true": True, "false": False}


class CatalogueError(ValueError):
    """The shipped catalogue file is inconsistent (a defect of the code, caught by the tests)."""


@functools.lru_cache(maxsize=1)
def catalogue() -> pd.DataFrame:
    """The catalogue as typed rows (raw.indicator_catalogue's columns), in sort_order."""
    text = pd.read_csv(CATALOGUE_PATH, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(text.columns) != COLUMNS:
        raise CatalogueError(f"{CATALOGUE_PATH.name}: columns {list(text.columns)}, expected {COLUMNS}")
    problems = []
    for line, row in zip(range(2, len(text) + 2), text.itertuples(index=False)):
        for column, allowed in (("unit_basis", UNIT_BASES), ("value_kind", VALUE_KINDS),
                                ("period_kind", PERIOD_KINDS), ("window_kind", ("", *WINDOW_KINDS)),
                                ("higher_is_better", ("", *_BOOLEANS)), ("is_split_by_sex", tuple(_BOOLEANS)),
                                ("is_split_by_profession", tuple(_BOOLEANS))):
            if getattr(row, column) not in allowed:
                problems.append(f"line {line}, column {column}: {getattr(row, column)!r} is not one of {allowed}")
        if bool(row.window_kind) != bool(row.window_months):
            problems.append(f"line {line}: window_kind and window_months go together")
    duplicated = text["indicator_code"][text["indicator_code"].duplicated()]
    problems += [f"indicator_code {code} appears twice" for code in duplicated]
    if problems:
        raise CatalogueError(f"{CATALOGUE_PATH.name}: " + "; ".join(problems))
    out = text.assign(
        window_kind=text["window_kind"].replace("", None),
        window_months=pd.to_numeric(text["window_months"].replace("", None)).astype("Int32"),
        higher_is_better=text["higher_is_better"].map(_BOOLEANS).astype("boolean"),
        is_split_by_sex=text["is_split_by_sex"].map(_BOOLEANS).astype(bool),
        is_split_by_profession=text["is_split_by_profession"].map(_BOOLEANS).astype(bool),
        sort_order=text["sort_order"].astype("int32"),
    )
    return out.sort_values("sort_order").reset_index(drop=True)


def codes(**where) -> tuple[str, ...]:
    """Codes in catalogue order, optionally those whose columns equal the given values, e.g.
    codes(value_kind='count') or codes(is_split_by_profession=True)."""
    rows = catalogue()
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return tuple(rows["indicator_code"])


def codes_in_unit_interval() -> tuple[str, ...]:
    """Shares and means (continuity: COC is in [0, 1]): their values and thresholds lie in [0, 1]."""
    rows = catalogue()
    return tuple(rows.loc[rows["value_kind"].isin(["share", "mean"]), "indicator_code"])
