"""The region's yearly workbook: <statements>/<YYYY>/region_summary_<YYYY>.xlsx.

Written with the statements of each published month of the year, from every published month of
the year (year_to_date.py, the yearly rollup of periods.py): the year to date until December is
published, then the complete year; its figures are those of `reimbursement_yearly` and
`indicators_yearly` for the year.

Sheets (A4 landscape): "Ersättning året" (per VC: months, each component over the year, the
total, what was paid in the year and of that the adjustments of earlier months) and "Mål året"
(per VC and the region: listed at the period's end and every target indicator for the year,
sex all, coloured met / close / missed against the target in force in the year's last
published month).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.labels import TOTAL_LABEL, components_of, indicator_kind, indicator_label, month_sv
from orchestration.defs.publication.statement_inputs import MonthInputs, targets_of
from orchestration.defs.publication.targets import direction_of, status
from orchestration.defs.publication.workbook import COUNT, INDICATOR_FORMAT, SEK, Sheet, page_setup, save_stable, styles
from orchestration.defs.publication.year_to_date import YearRows

REIMBURSEMENT_SHEET, TARGETS_SHEET = "Ersättning året", "Mål året"
ONE_PAGE_MAX_ROWS = 60     # as the monthly region summary: a region on one page, a nation fit to width
HSA_ID_WIDTH = 29
PAID, PAID_ADJUSTMENTS = "Utbetalt i året", "varav efterreglering"


def year_workbook_path(out_dir: Path, year: str) -> Path:
    return Path(out_dir) / year / f"region_summary_{year}.xlsx"


def _title_span(year: YearRows) -> str:
    return f"{year.year}, helår" if year.is_complete else f"{year.year}, hittills i år ({year.span_sv()})"


def _name(inputs: MonthInputs, vc: str) -> str:
    return inputs.units.get(vc, {}).get("name", "") or ""


def _write_reimbursement(wb, st, inputs: MonthInputs, year: YearRows, label: str) -> None:
    ws = wb.active
    ws.title = REIMBURSEMENT_SHEET
    s = Sheet(ws, st)
    rows = year.reimb[year.reimb["vardcentral_hsa_id"] != "REGION"].sort_values("vardcentral_hsa_id")
    components = components_of(rows.columns)
    s.text(f"Ersättning per vårdcentral {_title_span(year)}", "title")
    s.text(year.caption(), "note")
    s.text("Utbetalt i året: årets utbetalningar (en per publicerad månad, vid dess första publicering), "
           "efterregleringar av tidigare månader inräknade.", "note")
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Månader", *[name for _, name in components], TOTAL_LABEL, PAID,
              PAID_ADJUSTMENTS])
    formats = [None, None, COUNT, *[SEK] * (len(components) + 3)]
    for r in rows.to_dict("records"):
        vc = r["vardcentral_hsa_id"]
        s.line([vc, _name(inputs, vc), int(r["vc_months"]), *[float(r[c]) for c, _ in components],
                float(r["total"]), float(r["amount_paid"]), float(r["paid_adjustments_total"])], formats)
    s.line(["Totalt", f"{len(rows)} vårdcentraler", len(year.months),
            *[float(rows[c].sum()) for c, _ in components], float(rows["total"].sum()),
            float(rows["amount_paid"].sum()), float(rows["paid_adjustments_total"].sum())], formats, total=True)
    s.fit_widths(minimum=9, maximum=30, fixed={1: HSA_ID_WIDTH})
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Regionsammanställning år · {label}", footer_left="Vårdval primärvård",
               fit_height=1 if len(rows) <= ONE_PAGE_MAX_ROWS else 0)


def _write_targets(wb, st, inputs: MonthInputs, year: YearRows, targets: pd.DataFrame, label: str) -> None:
    ws = wb.create_sheet(TARGETS_SHEET)
    s = Sheet(ws, st)
    s.text(f"Indikatorer mot mål {_title_span(year)} (kön: alla)", "title")
    s.text("Årsvärde per indikatorns slag: antal listade och andra lägen vid periodens sista publicerade månad, "
           "flöden summerade, andelar som summa täljare / summa nämnare. Mål: de som gäller "
           f"{month_sv(year.months[-1])}. Grön = uppfyllt, gul = nära, röd = ej uppfyllt.", "note")
    ind = year.indicators[year.indicators["sex"] == "all"]
    value_of = dict(zip(zip(ind["vardcentral_hsa_id"], ind["indicator_code"], ind["profession"]), ind["value"]))
    pairs = [("listed_count", "all")]
    pairs += [p for p in sorted(set(zip(targets["indicator"], targets["profession"]))) if p not in pairs]
    target_of = {(t["indicator"], t["profession"]): t for t in targets.to_dict("records")}
    kinds = [INDICATOR_FORMAT[indicator_kind(c)] for c, _ in pairs]
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", *[indicator_label(c, p) for c, p in pairs]])
    s.line(["", "Mål", *[None if pair not in target_of else float(target_of[pair]["high"]) for pair in pairs]],
           [None, None, *kinds], bold=True)
    lows = [None if pair not in target_of or pd.isna(target_of[pair]["low"]) else float(target_of[pair]["low"])
            for pair in pairs]
    if any(v is not None for v in lows):
        s.line(["", "Nedre gräns", *lows], [None, None, *kinds])
    vcs = sorted(set(year.reimb["vardcentral_hsa_id"]) - {"REGION"})
    for vc in [*vcs, "REGION"]:
        values, fills = [], {}
        for i, pair in enumerate(pairs):
            value = value_of.get((vc, *pair))
            value = None if value is None or pd.isna(value) else float(value)
            values.append(value)
            t = target_of.get(pair)
            if t is not None and value is not None:
                state = status(value, t["low"], t["high"], direction_of(t["low"], t["high"], t.get("direction")))
                fills[3 + i] = st["fills"].get(state)
        name = "Regionen" if vc == "REGION" else _name(inputs, vc)
        s.line([vc, name, *values], [None, None, *kinds], fills=fills, bold=vc == "REGION")
    s.fit_widths(minimum=10, maximum=30, fixed={1: HSA_ID_WIDTH})
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Indikatorer mot mål år · {label}", footer_left="Vårdval primärvård")


def write_region_year_workbook(path: Path, inputs: MonthInputs, year: YearRows, out_dir: Path) -> Path:
    """The year's region workbook from `year` (every published month of the year); `inputs` (a
    month of the year) gives the units' names, and its targets when it is the year's last
    published month; `path` is the warehouse or published.duckdb the statements read."""
    from openpyxl import Workbook

    last = year.months[-1]
    targets = inputs.targets if last == inputs.month else targets_of(path, last)
    targets = targets[targets["month"] == last]
    label = _title_span(year)
    st = styles()
    wb = Workbook()
    _write_reimbursement(wb, st, inputs, year, label)
    _write_targets(wb, st, inputs, year, targets, label)
    return save_stable(wb, year_workbook_path(out_dir, year.year))
