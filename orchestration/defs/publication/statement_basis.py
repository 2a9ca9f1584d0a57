"""Each component of a VC's month as lines a reader can recompute by hand (SPEC §7).

A line is: amount = quantity × rate × factor ÷ divisor (an empty quantity, factor or divisor
counts as 1). A component is one line, or several lines listed in a specification (capitation
per band and sex, visit fees per contact type, profession and category, goals, programmes).
COMPONENT_BASES maps a component column to the function that explains it; a component without
one (a new column of reimbursement_monthly) is shown with its amount and no basis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from core.labels import (
    CATEGORY_SV,
    CONTACT_SV,
    PAYOUT_SV,
    PROFESSION_SV,
    components_of,
    format_value,
    indicator_kind,
    indicator_label,
)
from orchestration.defs.publication.statement_inputs import MonthInputs
from orchestration.defs.publication.targets import direction_of
from orchestration.defs.publication.workbook import COUNT, FACTOR, SEK, SEK_RATE, SHARE, WEIGHT
from sources.reimbursement_model import AMOUNT_TOLERANCE_SEK

# Statement columns of a basis line (summary and specifications).
QUANTITY, RATE, FACTOR_COL, DIVISOR, AMOUNT = "Antal / bas", "Sats", "Faktor", "Delat med", "Belopp"


@dataclass
class Line:
    text: str
    quantity: float | None = None
    rate: float | None = None
    factor: float | None = None
    divisor: float | None = None
    amount: float = 0.0
    quantity_format: str = COUNT
    rate_format: str = SEK_RATE
    factor_format: str = FACTOR
    extra: list = field(default_factory=list)          # specification-only cells before the basis

    def recomputed(self) -> float | None:
        if self.rate is None:
            return None
        value = (1 if self.quantity is None else self.quantity) * self.rate * (1 if self.factor is None else self.factor)
        return value / (self.divisor or 1)


@dataclass
class ComponentBasis:
    column: str
    label: str
    amount: float
    text: str                                  # the basis in words, on the summary
    lines: list[Line] = field(default_factory=list)
    spec_title: str | None = None              # lines listed in a specification, not on the summary
    # (the statement letters its specifications A, B, … in order and puts the letter in `text`'s {spec})
    spec_headers: list[str] = field(default_factory=list)   # extra column headers of the specification
    summary_quantity: float | None = None      # shown on the summary for a specified component
    summary_quantity_format: str = COUNT


def _f(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def _kr(value: float) -> str:
    return f"{value:,.0f} kr".replace(",", "\u00a0")


def _n(value) -> str:
    return f"{int(value):,}".replace(",", "\u00a0")


def _capitation(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount, listed = float(r["capitation"]), int(r["listed_count"])
    basis = ComponentBasis("capitation", "", amount, "Listade per åldersgrupp och kön × årsbelopp ÷ 12 (spec. {spec})",
                           summary_quantity=listed)
    rows = inputs.of("capitation", r["vardcentral_hsa_id"])
    if rows is None:
        basis.text = f"{_n(listed)} listade; belopp per åldersgrupp och kön enligt ersättningsmodellen"
        return basis
    if rows.empty:
        return ComponentBasis("capitation", "", amount, "Inga listade", lines=[Line("", quantity=0, rate=0.0)])
    basis.spec_title = "Kapitering – listade per åldersgrupp och kön × årsbelopp ÷ 12"
    basis.spec_headers = ["Åldersgrupp", "Kön"]
    for row in rows.to_dict("records"):
        age_from, age_to = row["age_from"], row["age_to"]
        band = ("saknas" if _f(age_from) is None else
                f"{int(age_from)}+ år" if _f(age_to) is None else f"{int(age_from)}–{int(age_to)} år")
        sex = "Kvinnor" if row["sex"] == "female" else "Män"
        rate = _f(row["sek_year"])
        basis.lines.append(Line("", quantity=int(row["listed"]),
                                rate=0.0 if rate is None else rate, divisor=12, amount=float(row["amount"]),
                                extra=[band, sex]))
    return basis


def _acg(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["acg"])
    rate = _f((inputs.version or {}).get("acg_sek_per_weight_year"))
    if rate is None:
        return ComponentBasis("acg", "", amount, "Summa ACG-vikt × ersättning per vikt och år ÷ 12")
    if rate == 0:
        return ComponentBasis("acg", "", amount, "Ingen ersättning per ACG-vikt i modellen",
                              lines=[Line("", rate=0.0, divisor=12, amount=amount)])
    weight_sum = amount * 12 / rate
    return ComponentBasis("acg", "", amount, "Summa ACG-vikt (utan vikt: 1,0) × kr per vikt och år ÷ 12",
                          lines=[Line("", quantity=weight_sum, rate=rate, divisor=12, amount=amount,
                                      quantity_format=WEIGHT)])


def _cni(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount, listed = float(r["cni"]), int(r["listed_count"])
    rate = _f((inputs.version or {}).get("cni_sek_per_listed_year"))
    if rate is None:
        return ComponentBasis("cni", "", amount, "Listade × kr per listad och år ÷ 12 × vårdcentralens CNI")
    if rate == 0 or listed == 0:
        return ComponentBasis("cni", "", amount, "Listade × kr per listad och år ÷ 12 × vårdcentralens CNI",
                              lines=[Line("", quantity=listed, rate=rate, divisor=12, amount=amount)])
    cni = amount * 12 / (rate * listed)
    return ComponentBasis("cni", "", amount, "Listade × kr per listad och år ÷ 12 × vårdcentralens CNI (faktor)",
                          lines=[Line("", quantity=listed, rate=rate, factor=cni, divisor=12, amount=amount)])


def _geography(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["geography"])
    tier = unit.get("rural_tier")
    tier_text = "–" if _f(tier) is None else str(int(tier))
    rate = inputs.geography.get(int(tier)) if _f(tier) is not None else None
    text = f"Landsbygdsnivå {tier_text}: belopp per månad"
    return ComponentBasis("geography", "", amount, text,
                          lines=[Line("", rate=float(rate) if rate is not None else amount, amount=amount)])


def _sabo(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["sabo"])
    rate = _f((inputs.version or {}).get("sabo_sek_per_resident_month"))
    sums = inputs.of("person_sums", r["vardcentral_hsa_id"])
    count = int(sums["sabo_count"].sum()) if sums is not None else None
    if rate is None or count is None:
        return ComponentBasis("sabo", "", amount, "Listade i särskilt boende × belopp per månad")
    return ComponentBasis("sabo", "", amount, "Listade i särskilt boende × kr per boende och månad",
                          lines=[Line("", quantity=count, rate=rate, amount=amount)])


def _visit_fees(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["visit_fees"])
    fees = inputs.of("fees", r["vardcentral_hsa_id"])
    if fees is None:
        contacts = inputs.of("contacts", r["vardcentral_hsa_id"])
        n = int(contacts["contact_count"].sum()) if contacts is not None and not contacts.empty else 0
        return ComponentBasis("visit_fees", "", amount, "Genomförda kontakter enligt besöksreglerna "
                              "(specifikation per kategori saknas i underlaget)", summary_quantity=n)
    if fees.empty:
        return ComponentBasis("visit_fees", "", amount, "Inga genomförda kontakter som ger ersättning",
                              lines=[Line("", quantity=0, rate=0.0)])
    basis = ComponentBasis("visit_fees", "", amount, "Genomförda kontakter × ersättning per kontakt (spec. {spec})",
                           summary_quantity=int(fees["contact_count"].sum()),
                           spec_title="Besöksersättning – genomförda kontakter per kategori",
                           spec_headers=["Kontakttyp, yrkesgrupp", "Patientkategori"])
    for f in fees.sort_values(["patient_category", "contact_type", "profession"]).to_dict("records"):
        fee = _f(f["fee_sek"])
        basis.lines.append(Line("", quantity=int(f["contact_count"]), rate=0.0 if fee is None else fee,
                                amount=float(f["amount"]),
                                extra=[f'{CONTACT_SV.get(f["contact_type"], f["contact_type"])}, '
                                       f'{PROFESSION_SV.get(f["profession"], f["profession"]).lower()}',
                                       CATEGORY_SV.get(f["patient_category"], f["patient_category"])
                                       + ("" if fee is not None else " (ingen regel: 0 kr)")]))
    return basis


UNIT_TYPE_SV = {"vardcentral": "på annan vårdcentral", "jour": "på jourmottagning", "digital": "på digital enhet"}


def _deduction(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["visits_elsewhere_deduction"])
    column = "visits_elsewhere_deduction"
    text = "Besök av listade på annan enhet (jour inräknad) × avdrag per besök"
    rows = inputs.of("deductions", r["vardcentral_hsa_id"])
    if (rows is None or rows.empty) and abs(amount) < AMOUNT_TOLERANCE_SEK:
        return ComponentBasis(column, "", amount, "Inga besök av listade på annan enhet",
                              lines=[Line("", quantity=0, rate=0.0)])
    if rows is not None and not rows.empty:
        lines = [Line("", quantity=int(d["visits_elsewhere_count"]), rate=-float(d["sek_per_visit"]),
                      amount=-int(d["visits_elsewhere_count"]) * float(d["sek_per_visit"]),
                      extra=["Besök " + UNIT_TYPE_SV.get(d["performing_unit_type"], "på annan enhet"), ""])
                 for d in rows.sort_values("performing_unit_type", na_position="first").to_dict("records")]
        if len(lines) > 1:
            return ComponentBasis(column, "", amount, "Besök av listade på annan enhet × avdrag per enhetstyp "
                                  "(spec. {spec})", lines=lines, summary_quantity=sum(x.quantity for x in lines),
                                  spec_title="Avdrag för besök på annan enhet – per utförande enhetstyp",
                                  spec_headers=["Utförd", ""])
        if lines:
            lines[0].extra = []
            return ComponentBasis(column, "", amount, text, lines=lines)
    version = inputs.version or {}
    rates = set((version.get("deduction_rates") or {}).values())
    rate = _f(version.get("visits_elsewhere_deduction_sek")) or (rates.pop() if len(rates) == 1 else None)
    if not rate:
        return ComponentBasis(column, "", amount, text if not rates else text + " (satser per enhetstyp)")
    count = -amount / rate
    if abs(count - round(count)) > 1e-6:
        return ComponentBasis(column, "", amount, text + " (flera satser)")
    return ComponentBasis(column, "", amount, text, lines=[Line("", quantity=int(round(count)), rate=-rate,
                                                                 amount=amount)])


def _goals(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["goal_payment"])
    goals = inputs.of("goals", r["vardcentral_hsa_id"])
    if goals is None:
        return ComponentBasis("goal_payment", "", amount, "Mål enligt ersättningsmodellen "
                              "(specifikation per mål saknas i underlaget: reimbursement_goals_monthly)")
    if goals.empty:
        return ComponentBasis("goal_payment", "", amount, "Inga mål med ersättning i modellen",
                              lines=[Line("", quantity=int(r["listed_count"]), rate=0.0)])
    basis = ComponentBasis("goal_payment", "", amount,
                           f"{len(goals)} mål: listade × kr per listad och månad × måluppfyllelse (spec. {{spec}})",
                           summary_quantity=int(r["listed_count"]),
                           spec_title="Målrelaterad ersättning – utfall, mål och uppfyllelse",
                           spec_headers=["Mål", "Modell: utfall, nedre gräns och målnivå"])
    for g in goals.sort_values("goal_order").to_dict("records"):
        kind = indicator_kind(g["indicator"])
        value = _f(g["indicator_value"]) if g.get("has_indicator_value", True) else None
        parts = [PAYOUT_SV.get(g["payout"], g["payout"]),
                 f"utfall {format_value(value, kind)}" if value is not None else "utfall saknas (0 kr)"]
        if _f(g["low"]) is not None:
            parts.append(f"nedre {format_value(_f(g['low']), kind)}")
        lower = direction_of(_f(g["low"]), _f(g["high"]), g.get("direction")) == "lower"
        parts.append(f"mål {'≤' if lower else '≥'} {format_value(_f(g['high']), kind)}")
        basis.lines.append(Line("", quantity=int(g["listed_count"]), rate=float(g["sek_per_listed_month"]),
                                factor=float(g["fulfilment"]), amount=float(g["amount"]), factor_format=SHARE,
                                extra=[indicator_label(g["indicator"], g["profession"]), " · ".join(parts)]))
    return basis


def _start_grant(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["start_grant"])
    version = inputs.version or {}
    n_max = _f(version.get("start_grant_months"))
    rate = _f(version.get("start_grant_sek_per_month"))
    opened = unit.get("opened_on")
    if opened is None or pd.isna(opened):
        return ComponentBasis("start_grant", "", amount, "Öppningsdatum saknas")
    opened = pd.Timestamp(opened)
    year, mon = (int(x) for x in inputs.month.split("-"))
    n = (year - opened.year) * 12 + (mon - opened.month) + 1
    of = f" av {int(n_max)}" if n_max else ""
    if amount:
        return ComponentBasis("start_grant", "", amount, f"Månad {n}{of} efter öppning {opened.date()}",
                              lines=[Line("", rate=rate if rate else amount, amount=amount)])
    first = f"de första {int(n_max)} månaderna" if n_max else "de första månaderna"
    return ComponentBasis("start_grant", "", amount,
                          f"Ej aktuellt: öppnad {opened.date()}, startbidrag {first}", lines=[Line("", rate=0.0)])


def _extra_assignments(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["extra_assignments"])
    rows = inputs.of("extra_assignments", r["vardcentral_hsa_id"])
    if rows is None and amount != 0:
        return ComponentBasis("extra_assignments", "", amount, "Tilläggsuppdrag, fast belopp per månad")
    if rows is None or rows.empty:   # nothing paid, whether or not the warehouse has the split mart
        return ComponentBasis("extra_assignments", "", amount, "Inga tilläggsuppdrag denna månad",
                              lines=[Line("", rate=0.0)])
    basis = ComponentBasis("extra_assignments", "", amount, f"{len(rows)} uppdrag, fast belopp per månad (spec. {{spec}})",
                           spec_title="Tilläggsuppdrag – fast belopp per månad",
                           spec_headers=["Uppdrag", "Giltigt"])
    for a in rows.sort_values(["assignment", "valid_from"]).to_dict("records"):
        valid = f"{_day(a.get('valid_from'))}–{_day(a.get('valid_to'))}"
        basis.lines.append(Line("", rate=float(a["amount"]), amount=float(a["amount"]), rate_format=SEK,
                                extra=[str(a["assignment"]), valid]))
    if len(basis.lines) == 1:   # one assignment: on the summary
        line = basis.lines[0]
        basis.text = f"{line.extra[0]} (giltigt {line.extra[1]}), fast belopp per månad"
        basis.spec_title, basis.spec_headers, line.extra = None, [], []
    return basis


def _day(value) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def _grant_line(name: str, split: str, pot: float, listed: int, participants_listed: int,
                participants: int) -> Line:
    if split == "equal" or participants_listed == 0:
        return Line("", quantity=1, rate=pot, divisor=participants, amount=pot / participants, rate_format=SEK,
                    extra=[name, f"pott delad lika, {participants} deltagare"])
    return Line("", quantity=listed, rate=pot, divisor=participants_listed, amount=pot * listed / participants_listed,
                rate_format=SEK, extra=[name, f"pott × listade här ÷ listade hos {participants} deltagare"])


def _development_grant(inputs: MonthInputs, r: dict, unit: dict) -> ComponentBasis:
    amount = float(r["development_grant"])
    vc = r["vardcentral_hsa_id"]
    if inputs.grants is None:
        return ComponentBasis("development_grant", "", amount, "Andel av programmets pott")
    lines = []
    if inputs.grants_split:   # reimbursement_development_grants_monthly: per VC and programme
        for g in inputs.of("grants", vc).sort_values("programme", na_position="first").to_dict("records"):
            name = "Utvecklingsmedel" if g["programme"] is None or pd.isna(g["programme"]) else str(g["programme"])
            lines.append(_grant_line(name, g["split"], float(g["pot_sek"]), int(g["listed_count"]),
                                     int(g["participants_listed_count"]), int(g["participant_count"])))
    else:                     # the registry's rows: split here as the model does
        listed = dict(zip(inputs.reimb["vardcentral_hsa_id"], inputs.reimb["listed_count"]))
        grants = inputs.grants[inputs.grants["hsa_id"].isin(listed)]   # open VCs only take part
        for g in grants[grants["hsa_id"] == vc].to_dict("records"):
            programme = g["programme"]
            same = grants[grants["programme"].isna()] if programme is None or pd.isna(programme) \
                else grants[grants["programme"] == programme]
            name = "Utvecklingsmedel" if programme is None or pd.isna(programme) else str(programme)
            lines.append(_grant_line(name, g["split"], float(g["pot_sek"]), int(listed[vc]),
                                     int(sum(listed[h] for h in same["hsa_id"])), len(same)))
    if not lines:
        return ComponentBasis("development_grant", "", amount, "Ingen utbetalning denna månad",
                              lines=[Line("", rate=0.0)])
    if len(lines) == 1:   # one programme: on the summary
        line = lines[0]
        text, line.extra = f"{line.extra[0]}: {line.extra[1]}", []
        return ComponentBasis("development_grant", "", amount, text, lines=[line])
    return ComponentBasis("development_grant", "", amount, f"{len(lines)} program (spec. {{spec}})", lines=lines,
                          spec_title="Utvecklingsmedel – per program", spec_headers=["Program", "Fördelning"])


def _vat(inputs: MonthInputs, r: dict, unit: dict, components: list[tuple[str, str]]) -> ComponentBasis:
    amount = float(r["vat_compensation"])
    base = sum(float(r[c]) for c, _ in components if c not in ("vat_compensation",))
    if r.get("owner_type") != "privat":
        return ComponentBasis("vat_compensation", "", amount, "Endast privata vårdgivare",
                              lines=[Line("", quantity=base, rate=0.0, amount=amount, quantity_format=SEK,
                                          rate_format=SHARE)])
    rate = amount / base if base else _f((inputs.version or {}).get("vat_compensation_pct", 0)) / 100
    rounded = round(rate, 6)
    if abs(rounded * base - amount) < 0.001:
        rate = rounded
    return ComponentBasis("vat_compensation", "", amount, "Procent av summan av komponenterna ovan",
                          lines=[Line("", quantity=base, rate=rate, amount=amount, quantity_format=SEK,
                                      rate_format=SHARE)])


COMPONENT_BASES = {
    "capitation": _capitation, "acg": _acg, "cni": _cni, "geography": _geography, "sabo": _sabo,
    "visit_fees": _visit_fees, "visits_elsewhere_deduction": _deduction, "goal_payment": _goals,
    "start_grant": _start_grant, "extra_assignments": _extra_assignments, "development_grant": _development_grant,
}


def component_bases(inputs: MonthInputs, r: dict, unit: dict) -> list[ComponentBasis]:
    """The VC's components in the order of SPEC §6, each with its basis."""
    components = components_of(r.keys())
    out = []
    for column, label in components:
        if column == "vat_compensation":
            basis = _vat(inputs, r, unit, components)
        elif column in COMPONENT_BASES:
            basis = COMPONENT_BASES[column](inputs, r, unit)
        else:
            basis = ComponentBasis(column, label, float(r[column]), "Belopp enligt ersättningsunderlaget")
        basis.label = label
        if basis.lines and abs(sum(line.recomputed() or 0.0 for line in basis.lines) - basis.amount) > AMOUNT_TOLERANCE_SEK:
            # the basis found does not explain the amount (e.g. a model table of another run):
            # show the amount without a basis rather than a basis that does not add up
            basis.text = f"{basis.text}; underlaget kunde inte stämmas av mot beloppet"
            basis.lines, basis.spec_title = [], None
        out.append(basis)
    return out
