"""Ersättningsunderlag: one formatted Excel workbook per VC and month, and the region workbook.

The VC statement explains every krona (SPEC §7). Sheet "Ersättningsunderlag", A4 portrait:
the VC, its listing cap and listed against it, then every component with its basis, rate and
amount and the total (first page), then the specifications of the components with more than
one line (listed per band and sex, contacts per category, goals, programmes), the
exceptions the model reported and, in a payout that settles any, the adjustments of earlier
months (Efterreglering, SPEC §6.1). Sheet "Uppföljning", A4 landscape: every indicator with a
target, and the key indicators, over 13 months with female and male below each, coloured
met / close / missed against the target of each month.

Beside the month stands the year to date (hittills i år, year_to_date.py): each component's
sum over the year's published months up to this one, and each indicator rolled up by its kind,
with the payouts made so far this year below the total. The region's yearly workbook
(region_year_workbook.py) is written with them.

Every line reads: amount = quantity × rate × factor ÷ divisor (empty cells count as 1), so a
reader recomputes it by hand. Amounts are written unrounded (SPEC §10) and shown in whole
kronor; totals are values, not formulas, so the workbook reads the same in any tool.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.labels import (
    COMPONENTS,  # noqa: F401  (the components' home is labels.py)
    EXCEPTION_SV,
    OWNER_SV,
    SEX_SV,
    TOTAL_LABEL,
    indicator_kind,
    indicator_label,
    month_short,
    month_sv,
    window_note,
)
from orchestration.defs.publication.region_workbook import write_region_workbook
from orchestration.defs.publication.statement_basis import (
    AMOUNT,
    DIVISOR,
    FACTOR_COL,
    QUANTITY,
    RATE,
    ComponentBasis,
    component_bases,
)
from orchestration.defs.publication.statement_inputs import MonthInputs, load_month
from orchestration.defs.publication.targets import direction_of, status
from orchestration.defs.publication.workbook import COUNT, INDICATOR_FORMAT, SEK, Sheet, page_setup, save_stable, styles
from orchestration.defs.publication.year_to_date import (
    YearRows,
    last_published_month_of_year,
    load_year_rows,
    published_dir,
)
from orchestration.runtime.parallel import map_forked

SUMMARY_SHEET, FOLLOW_UP_SHEET = "Ersättningsunderlag", "Uppföljning"
FOLLOW_UP_ONE_PAGE_ROWS = 80   # up to this many rows the follow-up prints on one landscape page (≥ 8 pt)
BASIS_HEADERS = [QUANTITY, RATE, FACTOR_COL, DIVISOR, AMOUNT]
YEAR_TO_DATE = "Hittills i år"
# Indicators shown on the follow-up sheet besides those with a target, in this order.
FOLLOW_UP_CODES = ["listed_count", "new_listings", "ended_listings", "phone_same_day_share", "assessment_0d_share",
                   "assessment_3d_share", "assessment_7d_share", "fast_lakare_share", "fast_lakare_share_sabo",
                   "coverage_ratio", "continuity_doctor", "continuity_all", "continuity_doctor_sabo",
                   "distance_contact_share", "video_contact_share", "visits_elsewhere", "relisting_over_limit",
                   "cap_breach_listings"]


def _date(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value) or pd.isna(value):
        return "–"
    return str(pd.Timestamp(value).date())


def _n(value) -> str:
    return f"{int(value):,}".replace(",", "\u00a0")


def _cap_text(unit: dict, listed: int, month: str) -> str:
    cap = unit.get("listing_cap")
    if cap is None or pd.isna(cap):
        return f"Listade vid månadens slut: {_n(listed)} · inget listningstak"
    period = f"{_date(unit.get('cap_from'))}–{_date(unit.get('cap_to'))}"
    day = pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0)
    in_force = ((pd.isna(unit.get("cap_from")) or pd.Timestamp(unit["cap_from"]) <= day)
                and (pd.isna(unit.get("cap_to")) or pd.Timestamp(unit["cap_to"]) >= day))
    share = f"{listed / int(cap) * 100:.1f} %".replace(".", ",")
    return (f"Listade vid månadens slut: {_n(listed)} · listningstak {_n(cap)} ({period}"
            f"{'' if in_force else ', gäller inte denna månad'}): {share} av taket")


def _basis_cells(line) -> tuple[list, list]:
    return ([line.quantity, line.rate, line.factor, line.divisor, line.amount],
            [line.quantity_format, line.rate_format, line.factor_format, COUNT, SEK])


def _write_summary(s: Sheet, bases: list[ComponentBasis], r: dict, ytd: dict | None = None,
                   year: YearRows | None = None) -> tuple[int, int]:
    """The components with their basis and amount; with `ytd` (the VC's reimbursement_yearly row
    of the year to date) each component's and the total's year to date beside the month."""
    header_row = s.row
    extra = [YEAR_TO_DATE] if ytd is not None else []

    def so_far(column: str) -> list:
        return [float(ytd.get(column) or 0.0)] if ytd is not None else []

    s.header(["Komponent", "Underlag", *BASIS_HEADERS, *extra])
    for b in bases:
        if len(b.lines) == 1 and not b.spec_title:
            values, formats = _basis_cells(b.lines[0])
            s.line([b.label, b.text, *values, *so_far(b.column)], [None, None, *formats, SEK])
        else:
            s.line([b.label, b.text, b.summary_quantity, None, None, None, b.amount, *so_far(b.column)],
                   [None, None, b.summary_quantity_format, None, None, None, SEK, SEK])
    s.line([TOTAL_LABEL, "", None, None, None, None, float(r["total"]), *so_far("total")], [None] * 6 + [SEK, SEK],
           total=True)
    s.text("Belopp = antal × sats × faktor ÷ delat med (tom cell = 1). Beloppen beräknas oavrundade och "
           "visas i hela kronor.", "note")
    if ytd is not None and year is not None:
        s.text(year.caption(), "note")
        s.text(f"Utbetalt hittills i år: {_kr(ytd.get('amount_paid'))} i {int(ytd.get('payouts_made') or 0)} "
               f"utbetalningar, varav efterreglering av tidigare månader {_kr(ytd.get('paid_adjustments_total'))}.",
               "note")
    return header_row, s.row - 1


def _kr(value) -> str:
    return f"{float(value or 0.0):,.0f} kr".replace(",", "\u00a0").replace("-", "−")


def _write_specifications(s: Sheet, bases: list[ComponentBasis]) -> None:
    for b in bases:
        if not b.spec_title or not b.lines:
            continue
        s.blank()
        s.text(b.spec_title, "h2")
        s.header([*b.spec_headers, *BASIS_HEADERS])
        for line in b.lines:
            values, formats = _basis_cells(line)
            s.line([*line.extra, *values], [None] * len(line.extra) + formats)
        s.line([f"Summa {b.label.lower()}", "", sum(x.quantity or 0 for x in b.lines)
                if b.column in ("capitation", "visit_fees") else None, None, None, None, b.amount],
               [None, None, COUNT, None, None, None, SEK], total=True)


def _write_exceptions(s: Sheet, exceptions: pd.DataFrame) -> None:
    s.blank()
    s.text("Rapporterade undantag", "h2")
    if exceptions.empty:
        s.text("Inga undantag rapporterades för månaden.", "note")
        return
    s.header(["Undantag", "Hantering i beräkningen", "Antal"])
    for e in exceptions.sort_values("exception").to_dict("records"):
        label, handling = EXCEPTION_SV.get(e["exception"], (e["exception"], ""))
        s.line([label, handling, int(e["item_count"])], [None, None, COUNT])


def _write_settled_adjustments(s: Sheet, adjustments: pd.DataFrame) -> None:
    """Efterreglering (SPEC §6.1): every adjustment of an earlier month settled in this payout."""
    s.blank()
    s.text("Efterreglering", "h2")
    if adjustments.empty:
        s.text("Inga efterregleringar regleras med denna utbetalning.", "note")
        return
    labels = dict(COMPONENTS)
    s.header(["Avser månad", "Versioner", "Komponent", AMOUNT])
    for a in adjustments.sort_values(["month", "to_version", "component"]).to_dict("records"):
        s.line([month_sv(a["month"]), f"v{int(a['from_version'])} → v{int(a['to_version'])}",
                labels.get(a["component"], a["component"]), float(a["amount"])], [None, None, None, SEK])
    s.line(["Summa efterreglering", "", "", float(adjustments["amount"].sum())], [None, None, None, SEK], total=True)


def _published_ledger(published_db_or_warehouse: Path):
    """The payout ledger published beside the warehouse or the published DuckDB file, or None."""
    from orchestration.defs.publication.payouts import load_ledger

    published = published_dir(published_db_or_warehouse)
    return load_ledger(published) if published is not None else None


def _follow_up_rows(inputs: MonthInputs, vc: str) -> list[tuple[str, str]]:
    """(indicator, profession) pairs of the follow-up sheet: every target's, then the key ones."""
    mine = inputs.of("indicators", vc)
    present = set(zip(mine["indicator_code"], mine["profession"]))
    pairs: list[tuple[str, str]] = []
    targets = inputs.targets.sort_values(["indicator", "profession"])
    for pair in zip(targets["indicator"], targets["profession"]):
        if pair not in pairs:
            pairs.append(pair)
    for code in FOLLOW_UP_CODES:
        if (code, "all") not in pairs:
            pairs.append((code, "all"))
    return [p for p in pairs if p in present]


def _write_follow_up(ws, st, inputs: MonthInputs, vc: str, unit: dict,
                     year: YearRows | None = None) -> tuple[int, int]:
    """With `year`, a year-to-date column after the months: each indicator rolled up over the
    year's published months up to this one by its kind, coloured against this month's target."""
    s = Sheet(ws, st)
    months = inputs.months
    s.text(f"Uppföljning {month_sv(inputs.month)} – {unit.get('name', vc)} ({vc})", "title")
    s.text("Indikatorer per månad, senaste 13 månaderna, mot målen för respektive månad; kvinnor och män under "
           "varje indikator. Andelar i %, kontinuitet (COC) som index 0–1 med mål i samma enhet.", "note")
    s.text("Färg: grön = uppfyllt, gul = nära (mellan nedre gräns och mål, eller inom 10 % av målet), "
           "röd = ej uppfyllt.", "note")
    ytd_values = {}
    if year is not None:
        s.text(year.caption() + " Antal listade och andra lägen: månadens värde; flöden: summan; andelar: "
               "summa täljare / summa nämnare.", "note")
        rows = year.indicators_of(vc)
        ytd_values = {(c, p, sx): v for c, p, sx, v in
                      zip(rows["indicator_code"], rows["profession"], rows["sex"], rows["value"])}
    extra = [YEAR_TO_DATE] if year is not None else []
    header_row = s.row
    s.header(["Indikator", "Kön", "Nedre gräns", "Mål", *[month_short(m) for m in months], *extra, "Regionen",
              "Anmärkning"])
    mine = inputs.of("indicators", vc)
    region = inputs.of("indicators", "REGION")
    region = region[(region["sex"] == "all") & (region["month"] == inputs.month)]
    region_value = dict(zip(zip(region["indicator_code"], region["profession"]), region["value"]))
    values = {(c, p, sx, m): v for c, p, sx, m, v in
              zip(mine["indicator_code"], mine["profession"], mine["sex"], mine["month"], mine["value"])}
    latest = mine[mine["month"] == inputs.month]
    notes_of = {(c, p, sx): (window_note(c, w), sup is True or (not pd.isna(sup) and bool(sup))) for c, p, sx, w, sup in
                zip(latest["indicator_code"], latest["profession"], latest["sex"], latest["window_months"],
                    latest["is_suppressed"])}
    target_of = {(t["month"], t["indicator"], t["profession"]): t for t in inputs.targets.to_dict("records")}
    fills = st["fills"]
    for code, prof in _follow_up_rows(inputs, vc):
        fmt = INDICATOR_FORMAT[indicator_kind(code)]
        current = target_of.get((inputs.month, code, prof), {})
        low, high = current.get("low"), current.get("high")
        for sex in ("all", "female", "male"):
            row_values, row_fills = [], {}
            for i, m in enumerate(months):
                value = values.get((code, prof, sex, m))
                value = None if value is None or pd.isna(value) else float(value)
                row_values.append(value)
                t = target_of.get((m, code, prof))
                if t is not None and value is not None:
                    state = status(value, t["low"], t["high"], direction_of(t["low"], t["high"], t.get("direction")))
                    row_fills[5 + i] = fills.get(state)
            if sex != "all" and all(v is None for v in row_values):
                continue   # not split by sex (e.g. telephony)
            so_far = []
            if year is not None:
                value = ytd_values.get((code, prof, sex))
                so_far = [None if value is None or pd.isna(value) else float(value)]
                if so_far[0] is not None and current:
                    row_fills[5 + len(months)] = fills.get(status(
                        so_far[0], low, high, direction_of(low, high, current.get("direction"))))
            note, suppressed = notes_of.get((code, prof, sex), ("", False))
            note = "; ".join(x for x in (note, "litet underlag" if suppressed else "") if x)
            first = sex == "all"
            reg = region_value.get((code, prof)) if first else None
            s.line([indicator_label(code, prof) if first else "", SEX_SV[sex],
                    (None if low is None or pd.isna(low) else float(low)) if first else None,
                    (None if high is None or pd.isna(high) else float(high)) if first else None,
                    *row_values, *so_far, None if reg is None or pd.isna(reg) else float(reg), note],
                   [None, None, fmt, fmt, *[fmt] * len(months), *[fmt] * len(so_far), fmt, None], bold=False,
                   fills=row_fills)
    s.indent(len(months) + len(extra) + 6, header_row)            # the notes, after the region's numbers
    s.fit_widths(minimum=7, maximum=34, fixed={1: 34})
    return header_row, s.row - 1


def _write_vc_workbook(inputs: MonthInputs, r: dict, path: Path, version: str,
                       settled: pd.DataFrame | None = None, year: YearRows | None = None) -> Path:
    from openpyxl import Workbook

    vc = r["vardcentral_hsa_id"]
    unit = inputs.units.get(vc, {})
    st = styles()
    wb = Workbook()
    ws = wb.active
    ws.title = SUMMARY_SHEET
    s = Sheet(ws, st)
    name = unit.get("name", vc)
    s.text(f"Ersättningsunderlag {month_sv(inputs.month)}", "title")
    s.text(f"{name} ({vc})", "h2")
    s.text(f"Vårdgivare: {unit.get('provider_name') or '–'} · {OWNER_SV.get(r.get('owner_type'), r.get('owner_type'))}"
           f" · ersättningsmodell version {r.get('model_version_id')} (från {_date(r.get('model_valid_from'))})")
    s.text(_cap_text(unit, int(r["listed_count"]), inputs.month))
    s.blank()
    bases = component_bases(inputs, r, unit)
    letters = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for b in bases:   # specifications lettered in the order they appear
        if b.spec_title and b.lines:
            letter = next(letters)
            b.spec_title, b.text = f"{letter}. {b.spec_title}", b.text.replace("{spec}", letter)
    ytd = year.reimbursement_of(vc) if year is not None else None
    header_row, _ = _write_summary(s, bases, r, ytd, year if ytd is not None else None)
    _write_specifications(s, bases)
    _write_exceptions(s, inputs.of("exceptions", vc))
    if settled is not None and not settled.empty:
        _write_settled_adjustments(s, settled[settled["vardcentral_hsa_id"] == vc])
    s.fit_widths(minimum=8, maximum=58)
    ws.freeze_panes = None
    label = f"{name} ({vc}) · {month_sv(inputs.month)} · {version}"
    page_setup(ws, landscape=False, title_rows=None, header=f"Ersättningsunderlag · {label}",
               footer_left="Vårdval primärvård")

    ws2 = wb.create_sheet(FOLLOW_UP_SHEET)
    header2, _ = _write_follow_up(ws2, st, inputs, vc, unit, year if ytd is not None else None)
    ws2.freeze_panes = ws2.cell(row=header2 + 1, column=3)
    page_setup(ws2, landscape=True, title_rows=(header2, header2), header=f"Uppföljning · {label}",
               footer_left="Vårdval primärvård", fit_height=1 if ws2.max_row <= FOLLOW_UP_ONE_PAGE_ROWS else 0)
    return save_stable(wb, path)


def _version_label(path: Path, month: str) -> str:
    """'version N' of the month as published (catalog beside published.duckdb), else ''."""
    import json

    for catalog in (Path(path).parent / "published" / "catalog.json", Path(path).parent / "catalog.json"):
        if catalog.is_file():
            try:
                entry = json.loads(catalog.read_text()).get("months", {}).get(month, {})
            except (ValueError, AttributeError):
                return "underlag"
            version = entry.get("latest_version") if isinstance(entry, dict) else None
            return f"version {version}" if version else "underlag"
    return "underlag"


def write_statements(published_db_or_warehouse: Path, month: str, out_dir: Path) -> list[Path]:
    """Write <out_dir>/<YYYY-MM>/ersattningsunderlag_<YYYY-MM>_<hsa_id>.xlsx per VC and
    region_summary_<YYYY-MM>.xlsx, and the year's <out_dir>/<YYYY>/region_summary_<YYYY>.xlsx
    when the month is published. A workbook whose content did not change is left untouched."""
    from orchestration.defs.publication.region_year_workbook import write_region_year_workbook

    path = Path(published_db_or_warehouse)
    inputs = load_month(path, month)
    version = _version_label(path, month)
    folder = Path(out_dir) / month
    jobs = [(r, folder / f"ersattningsunderlag_{month}_{r['vardcentral_hsa_id']}.xlsx")
            for r in inputs.reimb.to_dict("records")]
    # the year to date from what is published up to this month (None when the month is not)
    year = load_year_rows(path, month)
    year = year if year is not None and month in year.months else None
    # ~0.1 s of openpyxl per workbook, about 1 000 workbooks a national month: over the cores.
    ledger = _published_ledger(path)
    settled = ledger.adjustments[ledger.adjustments["settled_in_payout_month"] == month] if ledger else None
    payouts = ledger.payouts[ledger.payouts["payout_month"] == month] if ledger else None
    written = map_forked(lambda job: _write_vc_workbook(inputs, job[0], job[1], version, settled, year), jobs,
                         min_items_per_worker=8)
    written.append(write_region_workbook(inputs, folder / f"region_summary_{month}.xlsx", version, payouts))
    if year is not None:
        last = last_published_month_of_year(path, year.year)
        whole = year if last == month else load_year_rows(path, last)
        written.append(write_region_year_workbook(path, inputs, whole, Path(out_dir)))
    return written
