"""Ersättningsunderlag: one formatted Excel workbook per VC and month, and a region summary.

Reads either the warehouse (tables in schema `marts`) or published.duckdb (tables in `main`).
The supporting marts `reimbursement_goals_monthly` and `reimbursement_visit_fees_monthly` exist
only in the warehouse; without them the goal section is omitted with a note and the visit
section falls back to contact counts from contacts_monthly.

Amounts are written unrounded (SPEC §10) and shown in whole kronor; totals are values, not
formulas, so the workbook reads the same in any tool.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.parallel import map_forked
from orchestration.defs.publication.tables import check_month, table_exists
from sources import vocabulary
from sources.registry_history import units_in_month

KR = '#,##0 "kr"'
KR_DEC = '#,##0.00 "kr"'
PCT = "0.0 %"
INT = "#,##0"
DEC = "0.00"

COMPONENTS = [  # column, Swedish label
    ("capitation", "Kapitering"),
    ("acg", "Vårdtyngd (ACG)"),
    ("cni", "Socioekonomi (CNI)"),
    ("geography", "Geografi"),
    ("sabo", "Särskilt boende"),
    ("visit_fees", "Besöksersättning"),
    ("visits_elsewhere_deduction", "Avdrag för besök på annan enhet"),
    ("goal_payment", "Målrelaterad ersättning"),
    ("start_grant", "Startbidrag"),
    ("extra_assignments", "Tilläggsuppdrag"),
    ("development_grant", "Utvecklingsmedel"),
    ("vat_compensation", "Momskompensation"),
]
TOTAL_LABEL = "Summa"
AGE_BANDS = vocabulary.REPORTING_AGE_BAND_LABELS   # listing_monthly's bands
PROFESSION_SV = {"all": "Alla", "lakare": "Läkare", "sjukskoterska": "Sjuksköterska", "fysioterapeut": "Fysioterapeut",
                 "arbetsterapeut": "Arbetsterapeut", "psykolog": "Psykolog", "kurator": "Kurator", "dietist": "Dietist",
                 "barnmorska": "Barnmorska", "fotterapeut": "Fotterapeut", "ovrig": "Övrig", "*": "Alla"}
CONTACT_SV = {"besok": "Besök", "hembesok": "Hembesök", "telefon": "Telefon", "video": "Video", "chatt": "Chatt",
              "*": "Alla"}
CATEGORY_SV = {"own_listed": "Listad här", "other_listed": "Listad på annan vårdcentral", "not_listed": "Ej listad"}
INDICATOR_SV = {
    "listed_count": "Antal listade", "new_listings": "Nylistade", "ended_listings": "Avlistade",
    "relisting_over_limit": "Omlistningar över gränsen", "cap_breach_listings": "Nylistningar över listningstak",
    "fast_lakare_share": "Andel med fast läkarkontakt", "fast_lakare_share_sabo": "Fast läkarkontakt, SÄBO",
    "distance_contact_share": "Andel distanskontakter", "video_contact_share": "Andel videokontakter",
    "visits_elsewhere": "Andel besök på annan enhet", "coverage_ratio": "Täckningsgrad (6 mån)",
    "assessment_3d_share": "Medicinsk bedömning inom 3 dagar", "assessment_0d_share": "Medicinsk bedömning samma dag",
    "assessment_7d_share": "Medicinsk bedömning inom 7 dagar", "phone_same_day_share": "Telefontillgänglighet samma dag",
    "continuity_doctor": "Kontinuitet läkare (COC)", "continuity_all": "Kontinuitet alla yrken (COC)",
    "continuity_doctor_sabo": "Kontinuitet läkare, SÄBO (COC)",
    "continuity_all_sabo": "Kontinuitet alla yrken, SÄBO (COC)",
    "listed_per_named_gp": "Listade per namngiven fast läkare",
}
COUNT_CODES = {"listed_count", "new_listings", "ended_listings", "relisting_over_limit", "cap_breach_listings"}
RATIO_CODES = {"listed_per_named_gp"}
PAYOUT_SV = {"all_or_nothing": "Allt eller inget", "linear": "Linjär"}
OWNER_SV = {"offentlig": "Offentlig", "privat": "Privat"}


class _Source:
    """Tables from the warehouse (schema marts) or from published.duckdb (schema main)."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path), read_only=True)
        self.schema = "marts" if table_exists(self.con, "marts", "reimbursement_monthly") else "main"

    def has(self, table: str) -> bool:
        return table_exists(self.con, self.schema, table)

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.sql(sql.replace("{s}", self.schema)).df()

    def close(self) -> None:
        self.con.close()


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return {
        "title": Font(bold=True, size=14),
        "h2": Font(bold=True, size=12),
        "bold": Font(bold=True),
        "note": Font(italic=True, color="666666"),
        "header_fill": PatternFill("solid", fgColor="DDE6F0"),
        "total_border": Border(top=thin, bottom=Side(style="double", color="333333")),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "right": Alignment(horizontal="right"),
    }


class _Sheet:
    """Writes rows top-down, with formats; remembers header rows."""

    def __init__(self, ws, styles):
        self.ws, self.st, self.row = ws, styles, 1

    def text(self, value, style: str | None = None, col: int = 1):
        cell = self.ws.cell(row=self.row, column=col, value=value)
        if style:
            cell.font = self.st[style]
        self.row += 1
        return cell

    def blank(self, n: int = 1):
        self.row += n

    def header(self, labels: list[str]):
        for i, label in enumerate(labels, start=1):
            cell = self.ws.cell(row=self.row, column=i, value=label)
            cell.font = self.st["bold"]
            cell.fill = self.st["header_fill"]
            cell.alignment = self.st["wrap"]
        self.row += 1

    def line(self, values: list, formats: list[str | None] | None = None, bold: bool = False, total: bool = False):
        for i, value in enumerate(values, start=1):
            if isinstance(value, float) and value != value:
                value = None
            cell = self.ws.cell(row=self.row, column=i, value=value)
            if formats and i - 1 < len(formats) and formats[i - 1]:
                cell.number_format = formats[i - 1]
            if bold or total:
                cell.font = self.st["bold"]
            if total:
                cell.border = self.st["total_border"]
        self.row += 1


def _widths(ws, widths: list[int]) -> None:
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def _save(wb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.xlsx")
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _month_sv(month: str) -> str:
    names = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
             "november", "december"]
    year, mon = month.split("-")
    return f"{names[int(mon) - 1]} {year}"


def _n(value: int) -> str:
    return f"{int(value):,}".replace(",", "\u00a0")


def _date(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return "–"
    return str(pd.Timestamp(value).date()) if not isinstance(value, str) else value


def _vat_text(r: pd.Series) -> str:
    if r.get("owner_type") != "privat":
        return "Endast privata vårdgivare"
    base = float(r["total"]) - float(r["vat_compensation"])
    if abs(base) < 1e-9:
        return "Privat vårdgivare: procent av ovanstående"
    return f"Privat vårdgivare: {100 * float(r['vat_compensation']) / base:.2f} % av ovanstående".replace(".", ",")


def _detail_texts(extra: pd.DataFrame | None, grants: pd.DataFrame | None) -> dict[str, str]:
    """Basis texts from the supporting marts of one VC: its extra assignments and programmes."""
    out = {}
    if extra is not None and not extra.empty:
        out["extra_assignments"] = "; ".join(f"{a} {_n(round(float(v)))} kr/mån"
                                             for a, v in zip(extra["assignment"], extra["amount"]))
    if grants is not None and not grants.empty:
        split_sv = {"listed": "efter antal listade", "equal": "lika delar"}
        out["development_grant"] = "; ".join(
            f"{p if isinstance(p, str) else 'Utvecklingsmedel'}: pott {_n(round(float(pot)))} kr, "
            f"{split_sv.get(s, s)} ({int(n)} deltagare)"
            for p, pot, s, n in zip(grants["programme"], grants["pot_sek"], grants["split"],
                                    grants["participant_count"]))
    return out


def _basis_texts(r: pd.Series, unit: dict, listing: pd.DataFrame, visits_n: int | None) -> dict[str, str]:
    listed = int(r["listed_count"])
    sabo_n = int(listing["sabo_count"].sum()) if not listing.empty else None
    out = {
        "capitation": f"{_n(listed)} listade, belopp per åldersgrupp och kön (se nedan)",
        "acg": "Summa ACG-vikt × ersättning per vikt och år ÷ 12",
        "cni": f"{_n(listed)} listade × ersättning per listad och år ÷ 12 × vårdcentralens CNI",
        "geography": f"Landsbygdsnivå {unit.get('rural_tier', '–')}",
        "sabo": f"{sabo_n} listade i särskilt boende" if sabo_n is not None else "Listade i särskilt boende",
        "visit_fees": (f"{_n(visits_n)} genomförda kontakter (se nedan)" if visits_n is not None
                       else "Genomförda kontakter enligt besöksregler"),
        "visits_elsewhere_deduction": "Besök av listade på annan enhet (jour inräknad), avdrag per enhetstyp",
        "goal_payment": "Mål enligt ersättningsmodellen (se nedan)",
        "start_grant": f"Öppnad {_date(unit.get('opened_on'))}",
        "extra_assignments": "Tilläggsuppdrag giltiga månadens första dag",
        "development_grant": "Andel av programmens pott (efter antal listade eller lika delar)",
        "vat_compensation": _vat_text(r),
    }
    return out


def _write_vc_workbook(src: _Source, month: str, r: pd.Series, unit: dict, path: Path,
                       indicators: pd.DataFrame, region: pd.DataFrame, goals: pd.DataFrame | None,
                       fees: pd.DataFrame | None, contacts: pd.DataFrame, listing: pd.DataFrame,
                       details: dict[str, str] | None = None, follow_up: list[dict] | None = None) -> Path:
    """The VC's workbook. indicators, goals, fees, contacts and listing hold the VC's own rows
    (split in `write_statements`); region holds the region's indicator values; follow_up the
    month's model version's targets that pay nothing."""
    from openpyxl import Workbook

    st = _styles()
    wb = Workbook()
    ws = wb.active
    ws.title = "Ersättningsunderlag"
    s = _Sheet(ws, st)
    vc = r["vardcentral_hsa_id"]
    s.text(f"Ersättningsunderlag {_month_sv(month)}", "title")
    s.text(f"{unit.get('name', vc)} ({vc})", "h2")
    s.text(f"Vårdgivare: {unit.get('provider_name') or '–'} · {OWNER_SV.get(r.get('owner_type'), r.get('owner_type'))}"
           f" · Ersättningsmodell version {r.get('model_version_id')} (från {_date(r.get('model_valid_from'))})")
    s.blank()
    header_row = s.row
    s.header(["Komponent", "Underlag", "Belopp"])
    visits_n = int(fees["contact_count"].sum()) if fees is not None and not fees.empty else (
        int(contacts["contact_count"].sum()) if not contacts.empty else None)
    basis = {**_basis_texts(r, unit, listing, visits_n), **(details or {})}
    for column, label in COMPONENTS:
        s.line([label, basis.get(column, ""), float(r[column])], [None, None, KR])
    s.line([TOTAL_LABEL, "", float(r["total"])], [None, None, KR], total=True)
    s.blank()

    # capitation basis: listed by age band and sex
    s.text("Kapitering – listade per åldersgrupp och kön", "h2")
    s.header(["Åldersgrupp", "Kvinnor", "Män", "Totalt"])
    listed_by = {}  # (band, sex) -> listed; a plain sum, not a pivot_table (~10 ms a workbook)
    for band, sex, count in zip(listing["age_band"], listing["sex"], listing["listed_count"]):
        listed_by[(band, sex)] = listed_by.get((band, sex), 0) + count
    tot_f = tot_m = 0
    for band in AGE_BANDS:
        f, m = int(listed_by.get((band, "female"), 0)), int(listed_by.get((band, "male"), 0))
        tot_f, tot_m = tot_f + f, tot_m + m
        s.line([band + " år", f, m, f + m], [None, INT, INT, INT])
    s.line(["Totalt", tot_f, tot_m, tot_f + tot_m], [None, INT, INT, INT], total=True)
    s.blank()

    # visit fees
    s.text("Besöksersättning – genomförda kontakter per kategori", "h2")
    if fees is not None:
        s.header(["Kontakttyp", "Yrkesgrupp", "Patientkategori", "Antal", "Ersättning per kontakt", "Belopp"])
        for f in fees.sort_values(["contact_type", "profession", "patient_category"]).to_dict("records"):
            s.line([CONTACT_SV.get(f["contact_type"], f["contact_type"]),
                    PROFESSION_SV.get(f["profession"], f["profession"]),
                    CATEGORY_SV.get(f["patient_category"], f["patient_category"]),
                    int(f["contact_count"]), float(f["fee_sek"]), float(f["amount"])],
                   [None, None, None, INT, KR, KR])
        s.line(["Summa", "", "", int(fees["contact_count"].sum()), None, float(fees["amount"].sum())],
               [None, None, None, INT, None, KR], total=True)
    else:
        s.text("Ersättning per kategori saknas i underlaget (reimbursement_visit_fees_monthly); "
               "antal kontakter visas från contacts_monthly.", "note")
        s.header(["Kontakttyp", "Yrkesgrupp", "Patientkategori", "Antal"])
        for c in contacts.sort_values(["contact_type", "profession", "patient_category"]).to_dict("records"):
            s.line([CONTACT_SV.get(c["contact_type"], c["contact_type"]),
                    PROFESSION_SV.get(c["profession"], c["profession"]),
                    CATEGORY_SV.get(c["patient_category"], c["patient_category"]), int(c["contact_count"])],
                   [None, None, None, INT])
        s.line(["Summa", "", "", int(contacts["contact_count"].sum()) if not contacts.empty else 0],
               [None, None, None, INT], total=True)
    s.blank()

    # goals
    s.text("Målrelaterad ersättning", "h2")
    if goals is not None:
        s.header(["Indikator", "Yrkesgrupp", "Modell", "Utfall", "Nedre gräns", "Målnivå", "Måluppfyllelse",
                  "Kr per listad och månad", "Listade", "Belopp"])
        for g in goals.sort_values("goal_order").to_dict("records"):
            value = None if not g.get("has_indicator_value", True) or pd.isna(g["indicator_value"]) \
                else float(g["indicator_value"])
            s.line([INDICATOR_SV.get(g["indicator"], g["indicator"]), PROFESSION_SV.get(g["profession"], g["profession"]),
                    PAYOUT_SV.get(g["payout"], g["payout"]), value,
                    None if pd.isna(g["low"]) else float(g["low"]), float(g["high"]), float(g["fulfilment"]),
                    float(g["sek_per_listed_month"]), int(g["listed_count"]), float(g["amount"])],
                   [None, None, None, PCT, PCT, PCT, PCT, KR_DEC, INT, KR])
            if value is None:
                s.text("Indikatorn saknar värde för månaden: målet ger 0 kr.", "note")
        s.line(["Summa", "", "", None, None, None, None, None, None, float(goals["amount"].sum())],
               [None] * 9 + [KR], total=True)
    else:
        s.text("Specifikation per mål saknas i underlaget (reimbursement_goals_monthly); "
               f"målrelaterad ersättning totalt: {_n(round(float(r['goal_payment'])))} kr.", "note")
    _widths(ws, [38, 52, 18, 12, 14, 14, 16, 18, 10, 16])
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)

    # sheet 2: indicators against targets
    ws2 = wb.create_sheet("Indikatorer")
    s2 = _Sheet(ws2, st)
    s2.text(f"Indikatorer {_month_sv(month)} – {unit.get('name', vc)} ({vc})", "title")
    s2.blank()
    header2 = s2.row
    s2.header(["Indikator", "Yrkesgrupp", "Täljare", "Nämnare", "Värde", "Regionen", "Mål (nedre)", "Mål (övre)",
               "Uppfyllt", "Anmärkning"])
    targets = {(t["indicator"], t["profession"]): (t["low"], t["high"], t["direction"]) for t in follow_up or []}
    if goals is not None:
        for g in goals.to_dict("records"):
            targets[(g["indicator"], g["profession"])] = (g["low"], g["high"], g.get("direction", "higher"))
    mine = indicators[indicators["sex"] == "all"]
    reg = dict(zip(zip(region["indicator_code"], region["profession"]), region["value"]))
    for i in mine.sort_values(["indicator_code", "profession"]).to_dict("records"):
        code, prof = i["indicator_code"], i["profession"]
        is_count = code in COUNT_CODES
        fmt = INT if is_count else (DEC if code.startswith("continuity") or code in RATIO_CODES else PCT)
        target_fmt = fmt if code in RATIO_CODES or is_count else PCT
        low, high, direction = targets.get((code, prof), (None, None, "higher"))
        met = None
        if high is not None and pd.notna(i["value"]):
            sign = -1 if direction == "lower" else 1   # lower is better: compare the negated values
            value = sign * i["value"]
            met = "Ja" if value >= sign * high else ("Delvis" if low is not None and pd.notna(low)
                                                     and value > sign * low else "Nej")
        notes = []
        if bool(i.get("is_suppressed")):
            notes.append("Litet underlag (undertrycks i öppna data)")
        if pd.notna(i.get("window_months")):
            notes.append(f"{int(i['window_months'])} månaders fönster")
        s2.line([INDICATOR_SV.get(code, code), PROFESSION_SV.get(prof, prof),
                 None if pd.isna(i["numerator"]) else float(i["numerator"]),
                 None if pd.isna(i["denominator"]) else float(i["denominator"]),
                 None if pd.isna(i["value"]) else float(i["value"]),
                 None if pd.isna(reg.get((code, prof))) else float(reg.get((code, prof))),
                 None if low is None or pd.isna(low) else float(low), None if high is None else float(high),
                 met, "; ".join(notes)],
                [None, None, "#,##0.##", INT, fmt, fmt, target_fmt, target_fmt, None, None])
    if goals is None:
        s2.text("Målnivåer saknas (reimbursement_goals_monthly finns inte i underlaget).", "note")
    _widths(ws2, [40, 16, 12, 12, 12, 12, 12, 12, 10, 44])
    ws2.freeze_panes = ws2.cell(row=header2 + 1, column=1)
    return _save(wb, path)


def _write_region_summary(month: str, reimb: pd.DataFrame, units: dict, path: Path) -> Path:
    from openpyxl import Workbook

    st = _styles()
    wb = Workbook()
    ws = wb.active
    ws.title = "Regionsammanställning"
    s = _Sheet(ws, st)
    s.text(f"Ersättningsunderlag {_month_sv(month)} – sammanställning per vårdcentral", "title")
    s.blank()
    header_row = s.row
    s.header(["HSA-id", "Vårdcentral", "Driftform", "Listade", *[label for _, label in COMPONENTS], TOTAL_LABEL])
    formats = [None, None, None, INT, *[KR] * (len(COMPONENTS) + 1)]
    for r in reimb.sort_values("vardcentral_hsa_id").to_dict("records"):
        vc = r["vardcentral_hsa_id"]
        s.line([vc, units.get(vc, {}).get("name", ""), OWNER_SV.get(r["owner_type"], r["owner_type"]),
                int(r["listed_count"]), *[float(r[c]) for c, _ in COMPONENTS], float(r["total"])], formats)
    s.line(["Totalt", "", "", int(reimb["listed_count"].sum()), *[float(reimb[c].sum()) for c, _ in COMPONENTS],
            float(reimb["total"].sum())], formats, total=True)
    _widths(ws, [22, 30, 12, 10, *[16] * (len(COMPONENTS) + 1)])
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    return _save(wb, path)


def _split_by_vc(frame: pd.DataFrame):
    """vc -> that VC's rows (an empty frame with the same columns when it has none)."""
    parts = {vc: part for vc, part in frame.groupby("vardcentral_hsa_id", sort=False)}
    empty = frame.iloc[0:0]
    return lambda vc: parts.get(vc, empty)


def write_statements(published_db_or_warehouse: Path, month: str, out_dir: Path) -> list[Path]:
    """Write <out_dir>/<YYYY-MM>/ersattningsunderlag_<YYYY-MM>_<hsa_id>.xlsx per VC and region_summary_<YYYY-MM>.xlsx."""
    check_month(month)
    src = _Source(Path(published_db_or_warehouse))
    try:
        reimb = src.df(f"select * from {{s}}.reimbursement_monthly where month = '{month}' order by vardcentral_hsa_id")
        # the registry as it was at the month's end (SPEC §3.5: a unit may have several rows)
        units = {u["hsa_id"]: u for u in units_in_month(src.df("select * from {s}.vardcentraler"), month)
                 .to_dict("records")}
        indicators = src.df(f"select * from {{s}}.indicators_monthly where month = '{month}'")
        listing = src.df(f"select * from {{s}}.listing_monthly where month = '{month}'")
        contacts = src.df(f"select * from {{s}}.contacts_monthly where month = '{month}'")
        goals = src.df(f"select * from {{s}}.reimbursement_goals_monthly where month = '{month}'") \
            if src.has("reimbursement_goals_monthly") else None
        fees = src.df(f"select * from {{s}}.reimbursement_visit_fees_monthly where month = '{month}'") \
            if src.has("reimbursement_visit_fees_monthly") else None
        extra = src.df(f"select * from {{s}}.reimbursement_extra_assignments_monthly where month = '{month}' "
                       "order by assignment, valid_from") \
            if src.has("reimbursement_extra_assignments_monthly") else None
        grants = src.df(f"select * from {{s}}.reimbursement_development_grants_monthly where month = '{month}' "
                        "order by programme nulls first") \
            if src.has("reimbursement_development_grants_monthly") else None
        # The model's targets that pay nothing (the warehouse's staging; not in published.duckdb).
        follow_up = src.con.sql("select * from staging.stg_model__follow_up_targets").df() \
            if table_exists(src.con, "staging", "stg_model__follow_up_targets") else None
    finally:
        src.close()
    folder = Path(out_dir) / month
    region = indicators[(indicators["vardcentral_hsa_id"] == "REGION") & (indicators["sex"] == "all")]
    # Split each table by VC once: a filter per VC scans the whole table ~850 times a national month.
    indicators_of, goals_of, fees_of, contacts_of, listing_of, extra_of, grants_of = (
        None if frame is None else _split_by_vc(frame)
        for frame in (indicators, goals, fees, contacts, listing, extra, grants))
    workbooks = []
    for r in reimb.to_dict("records"):
        vc = r["vardcentral_hsa_id"]
        path = folder / f"ersattningsunderlag_{month}_{vc}.xlsx"
        workbooks.append((
            src, month, r, units.get(vc, {}), path, indicators_of(vc), region,
            None if goals is None else goals_of(vc), None if fees is None else fees_of(vc),
            contacts_of(vc), listing_of(vc),
            _detail_texts(None if extra is None else extra_of(vc), None if grants is None else grants_of(vc)),
            None if follow_up is None else
            follow_up[follow_up["version_id"] == r.get("model_version_id")].to_dict("records")))
    # ~65 ms of openpyxl per workbook, about 1 000 workbooks a national month: over the cores.
    written = map_forked(lambda args: _write_vc_workbook(*args), workbooks, min_items_per_worker=8)
    written.append(_write_region_summary(month, reimb, units, folder / f"region_summary_{month}.xlsx"))
    return written
