"""The region workbook of a month: every VC's components, indicators against targets as a heat
map, the deviations (åtgärder vid avvikelser) and the exceptions per VC.

Sheets: "Sammanställning" (one landscape A4 page for a region: components and total per VC),
"Mål per vårdcentral" (the month's value of every target indicator per VC, coloured met /
close / missed), "Avvikelser" (each VC and target not met this month: how far off, for how
many consecutive months and in how many of the 13), "Undantag" (reimbursement exceptions) and,
in a payout month, "Utbetalning" (the payment file's rows, SPEC §6.1).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.labels import (
    EXCEPTION_SV,
    OWNER_SV,
    STATUS_SV,
    TOTAL_LABEL,
    components_of,
    indicator_kind,
    indicator_label,
    month_sv,
)
from orchestration.defs.publication.statement_inputs import MonthInputs
from orchestration.defs.publication.targets import direction_of, shortfall, status
from orchestration.defs.publication.workbook import COUNT, INDICATOR_FORMAT, SEK, Sheet, page_setup, save_stable, styles

POINTS = '0.0 "p.e."'      # a difference of two shares, in percentage points
ONE_PAGE_MAX_ROWS = 60     # a region's summary fits one landscape page; a nation's is fit to width only
HSA_ID_WIDTH = 29          # 'SE2321000180-E000000000101' whole


def _target_statuses(inputs: MonthInputs) -> pd.DataFrame:
    """Per VC, target and month of the 13: value, low, high, direction and status."""
    ind = inputs.indicators
    ind = ind[(ind["sex"] == "all") & (ind["vardcentral_hsa_id"] != "REGION")]
    targets = inputs.targets.rename(columns={"indicator": "indicator_code"})
    frame = ind.merge(targets, on=["month", "indicator_code", "profession"], how="inner")
    frame = frame[frame["vardcentral_hsa_id"].isin(set(inputs.reimb["vardcentral_hsa_id"]))].copy()
    directions = [direction_of(lo, hi, d) for lo, hi, d in zip(frame["low"], frame["high"], frame["direction"])]
    frame["direction"] = directions
    frame["status"] = [None if pd.isna(v) else status(float(v), lo, hi, d)
                       for v, lo, hi, d in zip(frame["value"], frame["low"], frame["high"], directions)]
    return frame


def _write_summary(wb, st, inputs: MonthInputs, version: str) -> None:
    ws = wb.active
    ws.title = "Sammanställning"
    s = Sheet(ws, st)
    reimb = inputs.reimb
    components = components_of(reimb.columns)
    s.text(f"Ersättningsunderlag {month_sv(inputs.month)} – sammanställning per vårdcentral", "title")
    s.blank()
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Driftform", "Listade", *[label for _, label in components], TOTAL_LABEL])
    formats = [None, None, None, COUNT, *[SEK] * (len(components) + 1)]
    for r in reimb.sort_values("vardcentral_hsa_id").to_dict("records"):
        vc = r["vardcentral_hsa_id"]
        s.line([vc, inputs.units.get(vc, {}).get("name", ""), OWNER_SV.get(r["owner_type"], r["owner_type"]),
                int(r["listed_count"]), *[float(r[c]) for c, _ in components], float(r["total"])], formats)
    s.line(["Totalt", f"{len(reimb)} vårdcentraler", "", int(reimb["listed_count"].sum()),
            *[float(reimb[c].sum()) for c, _ in components], float(reimb["total"].sum())], formats, total=True)
    s.fit_widths(minimum=9, maximum=30, fixed={1: HSA_ID_WIDTH})
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Regionsammanställning · {month_sv(inputs.month)} · {version}", footer_left="Vårdval primärvård",
               fit_height=1 if len(reimb) <= ONE_PAGE_MAX_ROWS else 0)


def _write_heat_map(wb, st, inputs: MonthInputs, statuses: pd.DataFrame, version: str) -> None:
    ws = wb.create_sheet("Mål per vårdcentral")
    s = Sheet(ws, st)
    s.text(f"Indikatorer mot mål {month_sv(inputs.month)} (kön: alla)", "title")
    s.text("Grön = uppfyllt, gul = nära (mellan nedre gräns och mål, eller inom 10 % av målet), röd = ej uppfyllt.",
           "note")
    current = statuses[statuses["month"] == inputs.month]
    pairs = sorted(set(zip(current["indicator_code"], current["profession"])))
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", *[indicator_label(c, p) for c, p in pairs]])
    target_row, low_row = ["", "Mål"], ["", "Nedre gräns"]
    for c, p in pairs:
        t = current[(current["indicator_code"] == c) & (current["profession"] == p)].iloc[0]
        target_row.append(float(t["high"]))
        low_row.append(None if pd.isna(t["low"]) else float(t["low"]))
    kinds = [INDICATOR_FORMAT[indicator_kind(c)] for c, _ in pairs]
    s.line(target_row, [None, None, *kinds], bold=True)
    if any(v is not None for v in low_row[2:]):
        s.line(low_row, [None, None, *kinds])
    by_key = {(v, c, p): (val, st_) for v, c, p, val, st_ in zip(
        current["vardcentral_hsa_id"], current["indicator_code"], current["profession"], current["value"],
        current["status"])}
    for vc in sorted(inputs.reimb["vardcentral_hsa_id"]):
        values, fills = [], {}
        for i, (c, p) in enumerate(pairs):
            value, state = by_key.get((vc, c, p), (None, None))
            values.append(None if value is None or pd.isna(value) else float(value))
            fills[3 + i] = st["fills"].get(state)
        s.line([vc, inputs.units.get(vc, {}).get("name", ""), *values], [None, None, *kinds], fills=fills)
    s.fit_widths(minimum=10, maximum=30, fixed={1: HSA_ID_WIDTH})
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Indikatorer mot mål · {month_sv(inputs.month)} · {version}", footer_left="Vårdval primärvård")


def deviations(inputs: MonthInputs, statuses: pd.DataFrame) -> pd.DataFrame:
    """Each VC and target not met in the month: value, target, shortfall, months in a row not
    met up to the month, and months not met of the 13."""
    rows = []
    for (vc, code, prof), group in statuses.groupby(["vardcentral_hsa_id", "indicator_code", "profession"]):
        by_month = dict(zip(group["month"], group["status"]))
        latest = group[group["month"] == inputs.month]
        if latest.empty or by_month.get(inputs.month) not in ("close", "missed"):
            continue
        t = latest.iloc[0]
        in_a_row = 0
        for m in reversed(inputs.months):
            if by_month.get(m) in ("close", "missed"):
                in_a_row += 1
            else:
                break
        rows.append(dict(vardcentral_hsa_id=vc, indicator_code=code, profession=prof, value=float(t["value"]),
                         low=t["low"], high=float(t["high"]), status=t["status"],
                         shortfall=shortfall(float(t["value"]), float(t["high"]), t["direction"]),
                         months_in_a_row=in_a_row,
                         months_not_met=sum(1 for s in by_month.values() if s in ("close", "missed")),
                         months_measured=sum(1 for s in by_month.values() if s in ("met", "close", "missed"))))
    return pd.DataFrame(rows, columns=["vardcentral_hsa_id", "indicator_code", "profession", "value", "low", "high",
                                       "status", "shortfall", "months_in_a_row", "months_not_met",
                                       "months_measured"])


def _write_deviations(wb, st, inputs: MonthInputs, statuses: pd.DataFrame, version: str) -> None:
    ws = wb.create_sheet("Avvikelser")
    s = Sheet(ws, st)
    s.text(f"Avvikelser från målen {month_sv(inputs.month)} – underlag för åtgärder", "title")
    s.text("Avvikelse = målnivå − utfall (för mål där lägre är bättre: utfall − målnivå), i indikatorns enhet: "
           "procentenheter (p.e.) för andelar, index för kontinuitet.", "note")
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Indikator", "Utfall", "Mål", "Avvikelse", "Status", "Månader i rad",
              "Ej uppfyllt av 13 mån"])
    frame = deviations(inputs, statuses)
    if frame.empty:
        s.text("Alla vårdcentraler når alla mål denna månad.", "note")
    for d in frame.sort_values(["indicator_code", "profession", "shortfall"], ascending=[True, True, False]) \
            .to_dict("records"):
        kind = indicator_kind(d["indicator_code"])
        fmt = INDICATOR_FORMAT[kind]
        gap, gap_fmt = (d["shortfall"] * 100, POINTS) if kind == "share" else (d["shortfall"], fmt)
        s.line([d["vardcentral_hsa_id"], inputs.units.get(d["vardcentral_hsa_id"], {}).get("name", ""),
                indicator_label(d["indicator_code"], d["profession"]), d["value"], d["high"], gap,
                STATUS_SV[d["status"]], d["months_in_a_row"], f"{d['months_not_met']} av {d['months_measured']}"],
               [None, None, None, fmt, fmt, gap_fmt, None, COUNT, None], fills={7: st["fills"].get(d["status"])})
    s.indent(7, header_row)                          # the status, after the shortfall
    s.fit_widths(minimum=8, maximum=40, fixed={1: HSA_ID_WIDTH})
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Avvikelser · {month_sv(inputs.month)} · {version}", footer_left="Vårdval primärvård")


def _write_exceptions(wb, st, inputs: MonthInputs, version: str) -> None:
    ws = wb.create_sheet("Undantag")
    s = Sheet(ws, st)
    s.text(f"Rapporterade undantag i ersättningsberäkningen {month_sv(inputs.month)}", "title")
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Undantag", "Hantering i beräkningen", "Antal"])
    exceptions = inputs.exceptions
    if exceptions.empty:
        s.text("Inga undantag rapporterades för månaden.", "note")
    for e in exceptions.sort_values(["exception", "vardcentral_hsa_id"]).to_dict("records"):
        label, handling = EXCEPTION_SV.get(e["exception"], (e["exception"], ""))
        s.line([e["vardcentral_hsa_id"], inputs.units.get(e["vardcentral_hsa_id"], {}).get("name", ""), label,
                handling, int(e["item_count"])], [None, None, None, None, COUNT])
    s.fit_widths(minimum=8, maximum=48, fixed={1: HSA_ID_WIDTH})
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Undantag · {month_sv(inputs.month)} · {version}", footer_left="Vårdval primärvård")


def _write_payment(wb, st, inputs: MonthInputs, payouts: pd.DataFrame, version: str) -> None:
    """The month's payout as the payment file holds it: per VC the amount to pay, of which adjustments."""
    ws = wb.create_sheet("Utbetalning")
    s = Sheet(ws, st)
    s.text(f"Utbetalning {month_sv(inputs.month)}", "title")
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Vårdgivare", "Organisationsnummer", "Månadens ersättning",
              "Efterreglering", "Att betala"])
    for p in payouts.sort_values("vardcentral_hsa_id").to_dict("records"):
        s.line([p["vardcentral_hsa_id"], inputs.units.get(p["vardcentral_hsa_id"], {}).get("name", ""),
                p["provider_name"] or "", p["provider_org_number"] or "", float(p["month_total"]),
                float(p["adjustments_total"]), float(p["amount_to_pay"])], [None] * 4 + [SEK, SEK, '#,##0.00'])
    s.line([TOTAL_LABEL, "", "", "", float(payouts["month_total"].sum()), float(payouts["adjustments_total"].sum()),
            float(payouts["amount_to_pay"].sum())], [None] * 4 + [SEK, SEK, '#,##0.00'], total=True)
    s.fit_widths(minimum=8, maximum=48, fixed={1: HSA_ID_WIDTH})
    page_setup(ws, landscape=True, title_rows=(header_row, header_row),
               header=f"Utbetalning · {month_sv(inputs.month)} · {version}", footer_left="Vårdval primärvård")


def write_region_workbook(inputs: MonthInputs, path: Path, version: str,
                          payouts: pd.DataFrame | None = None) -> Path:
    from openpyxl import Workbook

    st = styles()
    wb = Workbook()
    statuses = _target_statuses(inputs)
    _write_summary(wb, st, inputs, version)
    _write_heat_map(wb, st, inputs, statuses, version)
    _write_deviations(wb, st, inputs, statuses, version)
    _write_exceptions(wb, st, inputs, version)
    if payouts is not None and not payouts.empty:
        _write_payment(wb, st, inputs, payouts, version)
    return save_stable(wb, path)
