"""What a scenario leaves behind: tables for BI, an Excel workbook in Swedish, a printed summary.

- `<data_dir>/scenarios/scenarios.duckdb` (never the warehouse, never published/):
  `scenario_comparison` (scenario, month, VC, component), `scenario_summary` (summed over the
  months, with `vardcentral_hsa_id = 'REGION'` rows) and `scenario_runs` (one row per scenario:
  file, checksum, months, region totals). A rerun of a scenario replaces its rows.
- `<data_dir>/scenarios/<name>_<from>_<to>.xlsx`: Sammanfattning, Per vårdcentral, Per komponent,
  Per månad and Diagram (change in total per VC).
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pandas as pd

from core.labels import COMPONENTS as COMPONENT_LABELS
from core.labels import OWNER_SV, TOTAL_LABEL
from orchestration.scenario.compute import COMPONENTS, ScenarioResult

LABEL_SV = {**dict(COMPONENT_LABELS), "total": TOTAL_LABEL}
# Within this share of today's total the scenario counts as (roughly) budget-neutral.
BUDGET_NEUTRAL_PCT = 0.5

KR = "#,##0"                       # shown as "# ##0" by Excel in a Swedish locale
KR_DIFF = "+#,##0;-#,##0;0"
PCT_DIFF = "+0.00 %;-0.00 %;0.00 %"
INT = "#,##0"

DDL = """
create table if not exists scenario_runs (
    scenario varchar not null, model_file varchar not null, model_sha256 varchar not null,
    month_from varchar not null, month_to varchar not null, warehouse varchar not null,
    computed_at timestamp not null, vardcentral_count integer not null,
    current_total_sek double not null, scenario_total_sek double not null,
    diff_sek double not null, diff_pct double, winners integer not null, losers integer not null,
    excel_file varchar not null
);
create table if not exists scenario_comparison (
    scenario varchar not null, month varchar not null, vardcentral_hsa_id varchar not null,
    vardcentral_name varchar, owner_type varchar, listed_count bigint not null, component varchar not null,
    current_sek double not null, scenario_sek double not null, diff_sek double not null, diff_pct double
);
create table if not exists scenario_summary (
    scenario varchar not null, month_from varchar not null, month_to varchar not null,
    vardcentral_hsa_id varchar not null, vardcentral_name varchar, owner_type varchar,
    listed_count bigint not null, component varchar not null,
    current_sek double not null, scenario_sek double not null, diff_sek double not null, diff_pct double
);
"""


class ScenarioStoreBusy(RuntimeError):
    pass


def region_totals(summary: pd.DataFrame) -> dict:
    row = summary[(summary["vardcentral_hsa_id"] == "REGION") & (summary["component"] == "total")].iloc[0]
    return {"current": float(row["current_sek"]), "scenario": float(row["scenario_sek"]),
            "diff": float(row["diff_sek"]), "pct": None if pd.isna(row["diff_pct"]) else float(row["diff_pct"])}


def vc_totals(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per VC (summed over the months), the change in total first, largest gain on top."""
    rows = summary[summary["vardcentral_hsa_id"] != "REGION"]
    wide = rows.pivot(index="vardcentral_hsa_id", columns="component", values="diff_sek")
    totals = rows[rows["component"] == "total"].set_index("vardcentral_hsa_id")
    out = totals[["vardcentral_name", "owner_type", "listed_count", "current_sek", "scenario_sek",
                  "diff_sek", "diff_pct"]].copy()
    for component in COMPONENTS[:-1]:
        out[f"diff_{component}"] = wide[component]
    return out.sort_values(["diff_sek", "vardcentral_hsa_id"], ascending=[False, True]).reset_index()


def budget_verdict(totals: dict) -> str:
    diff, pct = totals["diff"], totals["pct"]
    if abs(diff) < 1.0:
        return "budget-neutral"
    if pct is not None and abs(pct) <= BUDGET_NEUTRAL_PCT:
        return f"roughly budget-neutral (within ±{BUDGET_NEUTRAL_PCT} %)"
    return "costs the region more" if diff > 0 else "saves the region money"


# --------------------------------------------------------------------------------------------
# scenarios.duckdb


def write_tables(path: Path, result: ScenarioResult, monthly: pd.DataFrame, summary: pd.DataFrame,
                 excel_path: Path) -> None:
    totals = region_totals(summary)
    per_vc = vc_totals(summary)
    run = pd.DataFrame([{
        "scenario": result.name, "model_file": str(result.model_path), "model_sha256": result.model_sha256,
        "month_from": result.months[0], "month_to": result.months[-1], "warehouse": str(result.warehouse_path),
        "computed_at": dt.datetime.now().replace(microsecond=0), "vardcentral_count": len(per_vc),
        "current_total_sek": totals["current"], "scenario_total_sek": totals["scenario"],
        "diff_sek": totals["diff"], "diff_pct": totals["pct"],
        "winners": int((per_vc["diff_sek"] >= 1.0).sum()), "losers": int((per_vc["diff_sek"] <= -1.0).sum()),
        "excel_file": str(excel_path)}])
    comparison = monthly.assign(scenario=result.name)
    summary_rows = summary.assign(scenario=result.name, month_from=result.months[0], month_to=result.months[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise ScenarioStoreBusy(f"{path} is held open by another program (a BI tool?): close it and run the "
                                    "scenario again to update its tables") from None
        raise
    try:
        con.execute(DDL)
        con.execute("begin")
        for table, frame in (("scenario_runs", run), ("scenario_comparison", comparison),
                             ("scenario_summary", summary_rows)):
            con.execute(f"delete from {table} where scenario = ?", [result.name])
            con.register("rows_in", frame)
            con.execute(f"insert into {table} by name select * from rows_in")
            con.unregister("rows_in")
        con.execute("commit")
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# Excel


def write_workbook(path: Path, result: ScenarioResult, monthly: pd.DataFrame, summary: pd.DataFrame) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    total_border = Border(top=Side(style="thin", color="999999"), bottom=Side(style="double", color="333333"))
    gain_font, loss_font = Font(color="1E6B2F"), Font(color="B00020")

    def header(ws, labels, row=1):
        for col, label in enumerate(labels, start=1):
            cell = ws.cell(row=row, column=col, value=label)
            cell.font, cell.fill = bold, header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    def put(ws, row, values, formats, total=False):
        for col, (value, fmt) in enumerate(zip(values, formats), start=1):
            if isinstance(value, float) and value != value:
                value = None
            cell = ws.cell(row=row, column=col, value=value)
            if fmt:
                cell.number_format = fmt
            if fmt == KR_DIFF and isinstance(value, (int, float)) and abs(value) >= 0.5:
                cell.font = gain_font if value > 0 else loss_font
            if total:
                cell.font, cell.border = bold, total_border

    def widths(ws, values):
        for col, width in enumerate(values, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width

    def pct(value):
        return None if value is None or pd.isna(value) else float(value) / 100.0

    totals = region_totals(summary)
    per_vc = vc_totals(summary)
    period = result.months[0] if len(result.months) == 1 else f"{result.months[0]} – {result.months[-1]}"
    wb = Workbook()

    # Sammanfattning
    ws = wb.active
    ws.title = "Sammanfattning"
    ws["A1"] = f"Scenario {result.name}: jämförelse med nuvarande ersättningsmodell"
    ws["A1"].font = Font(bold=True, size=14)
    current_models = ", ".join(sorted({str(v)[:10] for v in result.current_versions["model_valid_from"]}))
    scenario_models = ", ".join(sorted(set(result.scenario_versions.values())))
    facts = [
        ("Modellfil", result.model_path.name),
        ("Period", f"{period} ({len(result.months)} mån)"),
        ("Beräknad", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("Nuvarande modell (version giltig från)", current_models),
        ("Scenariots modell (version giltig från)", scenario_models),
        ("Antal vårdcentraler", len(per_vc)),
        ("Vinner (ökad ersättning)", int((per_vc["diff_sek"] >= 1.0).sum())),
        ("Förlorar (minskad ersättning)", int((per_vc["diff_sek"] <= -1.0).sum())),
    ]
    row = 3
    for label, value in facts:
        ws.cell(row=row, column=1, value=label).font = bold
        ws.cell(row=row, column=2, value=value)
        row += 1
    row += 1
    header(ws, ["Hela regionen, summa för perioden", "Nuvarande", "Scenario", "Skillnad kr", "Skillnad %"], row)
    row += 1
    put(ws, row, ["Total ersättning", totals["current"], totals["scenario"], totals["diff"], pct(totals["pct"])],
        [None, KR, KR, KR_DIFF, PCT_DIFF], total=True)
    row += 2
    neutral = budget_verdict(totals)
    verdict_sv = {"budget-neutral": "Ja, budgetneutralt",
                  "costs the region more": "Nej: scenariot kostar regionen mer",
                  "saves the region money": "Nej: scenariot minskar regionens kostnad"}.get(
        neutral, f"Ungefär (inom ±{BUDGET_NEUTRAL_PCT} %)".replace(".", ","))
    ws.cell(row=row, column=1, value="Budgetneutralt?").font = bold
    ws.cell(row=row, column=2, value=verdict_sv)
    row += 2
    for note in ("Belopp i kronor, summerade över perioden; tabellerna har oavrundade värden och visas i hela kronor.",
                 "Skillnad = scenario − nuvarande; Skillnad % är i procent av nuvarande belopp.",
                 "Scenariot räknas om från samma lager (samma listningar, kontakter och indikatorvärden); "
                 "publicerade siffror påverkas inte."):
        ws.cell(row=row, column=1, value=note).font = Font(italic=True, color="666666")
        row += 1
    widths(ws, [42, 20, 20, 18, 12])

    # Per vårdcentral
    ws = wb.create_sheet("Per vårdcentral")
    component_cols = [f"{LABEL_SV[c]}, skillnad" for c in COMPONENTS[:-1]]
    header(ws, ["HSA-id", "Vårdcentral", "Driftform", "Listade (snitt)", "Nuvarande total", "Scenario total",
                "Skillnad kr", "Skillnad %", *component_cols])
    formats = [None, None, None, INT, KR, KR, KR_DIFF, PCT_DIFF, *[KR_DIFF] * (len(COMPONENTS) - 1)]
    for i, r in enumerate(per_vc.itertuples(index=False), start=2):
        put(ws, i, [r.vardcentral_hsa_id, r.vardcentral_name, OWNER_SV.get(r.owner_type, r.owner_type),
                    int(r.listed_count), r.current_sek, r.scenario_sek, r.diff_sek, pct(r.diff_pct),
                    *[float(getattr(r, f"diff_{c}")) for c in COMPONENTS[:-1]]], formats)
    last_vc_row = len(per_vc) + 1
    region = summary[summary["vardcentral_hsa_id"] == "REGION"].set_index("component")
    put(ws, last_vc_row + 1, ["REGION", "Hela regionen", "", int(region.loc["total", "listed_count"]),
                              region.loc["total", "current_sek"], region.loc["total", "scenario_sek"],
                              region.loc["total", "diff_sek"], pct(region.loc["total", "diff_pct"]),
                              *[float(region.loc[c, "diff_sek"]) for c in COMPONENTS[:-1]]], formats, total=True)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(formats))}{last_vc_row}"
    ws.row_dimensions[1].height = 45
    widths(ws, [28, 32, 11, 11, 16, 16, 14, 11, *[14] * (len(COMPONENTS) - 1)])

    # Per komponent
    ws = wb.create_sheet("Per komponent")
    header(ws, ["Komponent", "Nuvarande", "Scenario", "Skillnad kr", "Skillnad %",
                "Skillnad offentliga", "Skillnad privata"])
    formats = [None, KR, KR, KR_DIFF, PCT_DIFF, KR_DIFF, KR_DIFF]
    vcs = summary[summary["vardcentral_hsa_id"] != "REGION"]
    by_owner = vcs.groupby(["component", "owner_type"])["diff_sek"].sum()
    for i, component in enumerate(COMPONENTS, start=2):
        r = region.loc[component]
        put(ws, i, [LABEL_SV[component], r["current_sek"], r["scenario_sek"], r["diff_sek"], pct(r["diff_pct"]),
                    float(by_owner.get((component, "offentlig"), 0.0)),
                    float(by_owner.get((component, "privat"), 0.0))], formats, total=component == "total")
    ws.freeze_panes = "B2"
    widths(ws, [34, 18, 18, 16, 12, 18, 18])

    # Per månad
    ws = wb.create_sheet("Per månad")
    header(ws, ["Månad", "HSA-id", "Vårdcentral", "Driftform", "Listade", "Komponent", "Nuvarande", "Scenario",
                "Skillnad kr", "Skillnad %"])
    formats = [None, None, None, None, INT, None, KR, KR, KR_DIFF, PCT_DIFF]
    order = {c: i for i, c in enumerate(COMPONENTS)}
    rows = monthly.assign(_o=monthly["component"].map(order)).sort_values(["month", "vardcentral_hsa_id", "_o"])
    for i, r in enumerate(rows.itertuples(index=False), start=2):
        put(ws, i, [r.month, r.vardcentral_hsa_id, r.vardcentral_name, OWNER_SV.get(r.owner_type, r.owner_type),
                    int(r.listed_count), LABEL_SV[r.component], r.current_sek, r.scenario_sek, r.diff_sek,
                    pct(r.diff_pct)], formats)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:J{len(rows) + 1}"
    widths(ws, [9, 28, 32, 11, 10, 30, 16, 16, 14, 11])

    # Diagram: change in total per VC (bars from the Per vårdcentral sheet, largest gain on top)
    ws = wb.create_sheet("Diagram")
    data_sheet = wb["Per vårdcentral"]
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = f"Förändring av total ersättning per vårdcentral, {period} (kr)"
    chart.y_axis.title = "Skillnad kr (scenario − nuvarande)"
    chart.y_axis.numFmt = KR_DIFF
    chart.y_axis.majorGridlines = None
    chart.x_axis.scaling.orientation = "maxMin"   # first row (largest gain) on top
    chart.x_axis.tickLblPos = "low"               # names left of the bars, clear of negative ones
    chart.y_axis.delete = False
    chart.x_axis.delete = False
    chart.legend = None
    values = Reference(data_sheet, min_col=7, min_row=1, max_row=last_vc_row)
    names = Reference(data_sheet, min_col=2, min_row=2, max_row=last_vc_row)
    chart.add_data(values, titles_from_data=True)
    chart.set_categories(names)
    chart.series[0].invertIfNegative = False
    chart.height = max(8.0, 0.55 * len(per_vc) + 3)
    chart.width = 26
    ws.add_chart(chart, "A1")

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    wb.save(partial)
    os.replace(partial, path)


# --------------------------------------------------------------------------------------------
# The printed summary


def print_summary(console, result: ScenarioResult, summary: pd.DataFrame, excel_path: Path, store: Path,
                  top: int = 5) -> None:
    from rich.table import Table

    totals = region_totals(summary)
    per_vc = vc_totals(summary)
    months = result.months
    period = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    console.print(f"[bold]Scenario {result.name}[/bold] ({result.model_path.name}) against today's figures, "
                  f"{period}, {len(per_vc)} VCs (sums over {len(months)} month(s), SEK)")

    def sek(value: float) -> str:
        return f"{value:,.0f}".replace(",", " ")

    def signed(value: float) -> str:
        return ("+" if value >= 0.5 else "") + sek(value)

    def percent(value) -> str:
        if value is None or pd.isna(value):
            return ""
        return f"{value:+.2f} %" if abs(value) < 1 else f"{value:+.1f} %"

    region = summary[summary["vardcentral_hsa_id"] == "REGION"].set_index("component")
    table = Table(title="Region by component", title_justify="left")
    for column, justify in (("component", "left"), ("today", "right"), ("scenario", "right"),
                            ("difference", "right"), ("%", "right")):
        table.add_column(column, justify=justify)
    for component in COMPONENTS:
        r = region.loc[component]
        if component != "total" and abs(r["current_sek"]) < 0.5 and abs(r["scenario_sek"]) < 0.5:
            continue
        style = "bold" if component == "total" else None
        table.add_row(component, sek(r["current_sek"]), sek(r["scenario_sek"]), signed(r["diff_sek"]),
                      percent(r["diff_pct"]), style=style, end_section=component == "vat_compensation")
    console.print(table)

    for title, rows, colour in (
            (f"Winners (top {top})", per_vc[per_vc["diff_sek"] >= 1.0].head(top), "green"),
            (f"Losers (top {top})", per_vc[per_vc["diff_sek"] <= -1.0].sort_values("diff_sek").head(top), "red")):
        if rows.empty:
            console.print(f"{title}: none")
            continue
        table = Table(title=title, title_justify="left")
        for column, justify in (("HSA-id", "left"), ("vårdcentral", "left"), ("owner", "left"),
                                ("today", "right"), ("scenario", "right"), ("difference", "right"),
                                ("%", "right"), ("mainly", "left")):
            table.add_column(column, justify=justify)
        for r in rows.itertuples(index=False):
            table.add_row(r.vardcentral_hsa_id, str(r.vardcentral_name), str(r.owner_type), sek(r.current_sek),
                          sek(r.scenario_sek), f"[{colour}]{signed(r.diff_sek)}[/{colour}]", percent(r.diff_pct),
                          _main_drivers(r))
        console.print(table)

    verdict = budget_verdict(totals)
    colour = "green" if "neutral" in verdict else "yellow"
    console.print(f"[bold]Region total[/bold]: today {sek(totals['current'])} kr, scenario {sek(totals['scenario'])} kr, "
                  f"difference {signed(totals['diff'])} kr ({percent(totals['pct']) or 'n/a'}): "
                  f"[{colour}]{verdict}[/{colour}]", soft_wrap=True)
    console.print(f"written: {excel_path}; tables scenario_comparison, scenario_summary, scenario_runs in {store} "
                  f"(computed in {result.seconds:.0f} s; published figures and the warehouse untouched)", soft_wrap=True)


def _main_drivers(row) -> str:
    """The one or two components that move a VC's total most."""
    moves = sorted(((getattr(row, f"diff_{c}"), c) for c in COMPONENTS[:-1]), key=lambda m: -abs(m[0]))
    parts = [f"{c} {'+' if v > 0 else '−'}{abs(v):,.0f}".replace(",", " ") for v, c in moves[:2] if abs(v) >= 1.0]
    return ", ".join(parts)
