"""The Swedish words of the published outputs (statements, region workbook, report, scenario).

One home for every label a reader sees: components, professions, contact types, patient
categories, indicators, exceptions, owner types, sexes and month names, and the kind of
number an indicator is (count, share or index) that decides how it is formatted everywhere.
"""
from __future__ import annotations

from core import indicator_catalogue, vocabulary

COMPONENT_SV = {  # column of reimbursement_monthly -> Swedish label
    "capitation": "Kapitering",
    "acg": "Vårdtyngd (ACG)",
    "cni": "Socioekonomi (CNI)",
    "geography": "Geografi",
    "sabo": "Särskilt boende",
    "visit_fees": "Besöksersättning",
    "visits_elsewhere_deduction": "Avdrag för besök på annan enhet",
    "goal_payment": "Målrelaterad ersättning",
    "start_grant": "Startbidrag",
    "extra_assignments": "Tilläggsuppdrag",
    "development_grant": "Utvecklingsmedel",
    "vat_compensation": "Momskompensation",
}
# (column, label) in the components' order of SPEC §6 (core/vocabulary.py)
COMPONENTS = [(component, COMPONENT_SV[component]) for component in vocabulary.COMPONENTS]
TOTAL_LABEL = "Summa"


def components_of(columns) -> list[tuple[str, str]]:
    """The components a reimbursement table carries (a component the model does not compute
    yet is simply not shown)."""
    present = set(columns)
    return [(column, label) for column, label in COMPONENTS if column in present]


AGE_BANDS = list(vocabulary.REPORTING_AGE_BAND_LABELS)
SEX_SV = {"all": "Alla", "female": "Kvinnor", "male": "Män"}
PROFESSION_SV = {"all": "Alla", "lakare": "Läkare", "sjukskoterska": "Sjuksköterska", "fysioterapeut": "Fysioterapeut",
                 "arbetsterapeut": "Arbetsterapeut", "psykolog": "Psykolog", "kurator": "Kurator", "dietist": "Dietist",
                 "barnmorska": "Barnmorska", "fotterapeut": "Fotterapeut", "ovrig": "Övrig", "*": "Alla"}
CONTACT_SV = {"besok": "Besök", "hembesok": "Hembesök", "telefon": "Telefon", "video": "Video", "chatt": "Chatt",
              "*": "Alla"}
CATEGORY_SV = {"own_listed": "Listad här", "other_listed": "Listad på annan VC", "not_listed": "Ej listad"}
_CATALOGUE = indicator_catalogue.catalogue()
INDICATOR_SV = dict(zip(_CATALOGUE["indicator_code"], _CATALOGUE["name_sv"]))
# How a value is shown, by the catalogue's value kind: a mean COC is an index 0–1 (targets in
# the same unit), a ratio of counts has one decimal, a share is a percentage.
_SHOWN_AS = {"count": "count", "ratio": "ratio", "mean": "index", "share": "share"}
_KIND = {code: _SHOWN_AS[kind] for code, kind in zip(_CATALOGUE["indicator_code"], _CATALOGUE["value_kind"])}
# Months in each windowed indicator's full window (SPEC §10.2)
_WINDOWED = _CATALOGUE[_CATALOGUE["window_months"].notna()]
WINDOW_LENGTH = {code: int(months) for code, months in zip(_WINDOWED["indicator_code"], _WINDOWED["window_months"])}
PAYOUT_SV = {"all_or_nothing": "Allt eller inget", "linear": "Linjär"}
OWNER_SV = {"offentlig": "Offentlig", "privat": "Privat"}
EXCEPTION_SV = {  # reimbursement_exceptions_monthly.exception: what it is, and what the model did
    "no_model_version": ("Ingen ersättningsmodell gäller månaden", "ingen ersättning beräknad"),
    "capitation_band_missing": ("Listade utan kapiteringsbelopp för ålder/kön", "0 kr i kapitering"),
    "acg_weight_missing": ("Listade utan ACG-vikt", "räknade med vikt 1,0"),
    "cni_area_unknown": ("Listade med okänt område (DeSO)", "räknade med CNI 1,0"),
    "listed_at_unit_not_open": ("Listade på enhet som inte är öppen vårdcentral", "ingen ersättning"),
    "visit_fee_no_rule": ("Kontakter utan besöksregel", "0 kr"),
    "goal_indicator_missing": ("Mål utan indikatorvärde", "målet ger 0 kr"),
    "geography_tier_unknown": ("Landsbygdsnivå saknar belopp", "0 kr i geografi"),
    "development_grant_unit_not_open": ("Utvecklingsmedel till enhet som inte är öppen", "ej utbetalt"),
    "development_grant_pot_differs": ("Utvecklingsmedel med olika pott i samma program", "kontrollera underlaget"),
}
STATUS_SV = {"met": "Uppfyllt", "close": "Nära", "missed": "Ej uppfyllt", None: "–"}

MONTHS_SV = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
             "november", "december"]


def month_sv(month: str) -> str:
    """'2025-02' -> 'februari 2025'."""
    year, mon = month.split("-")
    return f"{MONTHS_SV[int(mon) - 1]} {year}"


def month_short(month: str) -> str:
    """'2025-02' -> 'feb 25' (column headers of 13-month tables)."""
    year, mon = month.split("-")
    return f"{MONTHS_SV[int(mon) - 1][:3]} {year[2:]}"


def indicator_kind(code: str) -> str:
    """count, ratio, index (continuity, 0–1) or share (shown as %)."""
    return _KIND.get(code, "share")


def indicator_label(code: str, profession: str = "all") -> str:
    label = INDICATOR_SV.get(code, code)
    return label if profession in ("all", None) else f"{label} ({PROFESSION_SV.get(profession, profession).lower()})"


def window_note(code: str, window_months) -> str:
    """'4 av 12 månader' for an indicator whose window is not yet full (SPEC §10.2), else ''."""
    try:
        months = int(window_months)
    except (TypeError, ValueError):   # None, NaN, pd.NA: no window
        return ""
    full = WINDOW_LENGTH.get(code, 12)
    return "" if months >= full else f"{months} av {full} månader"


def format_value(value: float | None, kind: str) -> str:
    """An indicator value as text in its unit: share as %, index 0–1 with two decimals, count."""
    if value is None or value != value:
        return "–"
    if kind == "share":
        return f"{value * 100:.1f} %".replace(".", ",")
    if kind == "index":
        return f"{value:.2f}".replace(".", ",")
    if kind == "ratio":
        return f"{value:,.1f}".replace(",", "\u00a0").replace(".", ",")
    return f"{int(round(value)):,}".replace(",", "\u00a0")
