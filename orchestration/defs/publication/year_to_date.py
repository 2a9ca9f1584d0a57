"""The year to date (hittills i år) that a month's statements show, and the year a region's
yearly workbook shows, from the PUBLISHED state (catalog.json beside the warehouse).

Both are the yearly rollup of periods.py (one rollup: stock at the period's last published
month, flows summed, shares Σ numerators / Σ denominators, each component summed over each
month's latest published version, the payouts made in the months beside them) over a narrowed
catalog: the year's published months up to and including the statement's month, or every
published month of the year.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.labels import MONTHS_SV, month_sv
from orchestration.defs.publication.periods import year_to_date_tables


@dataclass
class YearRows:
    year: str
    through: str                        # the last month the rows may hold (the statement's month or December)
    months: list[str]                   # the published months the rows are built from
    reimb: pd.DataFrame                 # reimbursement_yearly rows, one per VC (with the payouts beside)
    indicators: pd.DataFrame            # indicators_yearly rows, per VC and REGION, sex and profession
    _reimb_by_vc: dict = field(default_factory=dict, repr=False)
    _indicators_by_vc: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._reimb_by_vc = {r["vardcentral_hsa_id"]: r for r in self.reimb.to_dict("records")}
        self._indicators_by_vc = {vc: part for vc, part in self.indicators.groupby("vardcentral_hsa_id", sort=False)}

    @property
    def is_complete(self) -> bool:
        return len(self.months) == 12

    def reimbursement_of(self, vc: str) -> dict | None:
        return self._reimb_by_vc.get(vc)

    def indicators_of(self, vc: str) -> pd.DataFrame:
        return self._indicators_by_vc.get(vc, self.indicators.iloc[0:0])

    def missing(self) -> list[str]:
        """The year's months up to `through` that are not published (blocked or not yet run)."""
        last = int(self.through[5:7])
        return [f"{self.year}-{m:02d}" for m in range(1, last + 1) if f"{self.year}-{m:02d}" not in self.months]

    def span_sv(self) -> str:
        """'januari–april 2025' (the months the rows cover, up to `through`)."""
        first = f"{self.year}-01"
        if self.through == first:
            return month_sv(first)
        return f"{MONTHS_SV[0]}–{month_sv(self.through)}"

    def caption(self) -> str:
        """What the year-to-date figures are, in one line (which months, which are missing)."""
        text = (f"Hittills i år = {self.span_sv()}: summan av årets publicerade månader, var och en i sin "
                f"senaste version ({len(self.months)} av {int(self.through[5:7])} månader)")
        missing = self.missing()
        if missing:
            text += "; ej publicerad: " + ", ".join(MONTHS_SV[int(m[5:7]) - 1] for m in missing)
        return text + "."


def published_dir(path: Path) -> Path | None:
    """The published folder beside a warehouse (or holding a published.duckdb), or None."""
    for published in (Path(path).parent / "published", Path(path).parent):
        if (published / "catalog.json").is_file():
            return published
    return None


def _catalog(published: Path) -> dict:
    return json.loads((published / "catalog.json").read_text(encoding="utf-8"))


def load_year_rows(path: Path, through: str) -> YearRows | None:
    """The yearly rows of `through`'s year up to `through` (YYYY-MM) from what is published beside
    `path` (a warehouse or published.duckdb); None when nothing of that is published."""
    published = published_dir(path)
    if published is None:
        return None
    catalog = _catalog(published)
    year = through[:4]
    months = sorted(m for m in catalog.get("months", {}) if m[:4] == year and m <= through)
    if not months:
        return None
    tables = year_to_date_tables(published, catalog, through)
    return YearRows(year=year, through=through, months=months, reimb=tables["reimbursement_yearly"],
                    indicators=tables["indicators_yearly"])


def last_published_month_of_year(path: Path, year: str) -> str | None:
    published = published_dir(path)
    if published is None:
        return None
    months = sorted(m for m in _catalog(published).get("months", {}) if m[:4] == year)
    return months[-1] if months else None
