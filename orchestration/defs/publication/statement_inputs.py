"""Everything the month's statements and region workbook show, read once for all VCs.

Reads the warehouse (marts, and the model's staging tables for the rates) or published.duckdb
(schema main; without the model's rates the bases show counts only). The bases a mart does
not carry are worked out read-only from the marts here, so that each agrees with the amount:
  - capitation: listed persons per capitation band of the model version and sex, with the
    band's annual amount (reimbursement_person_monthly × stg_model__capitation);
  - ACG weight sum = Σ acg × 12 ÷ the rate (each person's acg is weight × rate ÷ 12, a person
    without weight counting 1.0); the VC's CNI = Σ cni × 12 ÷ (rate × listed);
  - SÄBO residents: persons with a SÄBO amount; deductions: the deduction ÷ the rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from core.months import check_month, previous_month
from core.warehouse import table_exists


def months_back(month: str, n: int) -> list[str]:
    months = [month]
    while len(months) < n:
        months.append(previous_month(months[-1]))
    return list(reversed(months))


class Source:
    """Tables from the warehouse (schema marts, model in staging) or published.duckdb (main)."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path), read_only=True)
        self.schema = "marts" if table_exists(self.con, "marts", "reimbursement_monthly") else "main"
        self.model = "staging" if self.schema == "marts" else "main"

    def has(self, table: str, schema: str | None = None) -> bool:
        return table_exists(self.con, schema or self.schema, table)

    def columns(self, table: str, schema: str | None = None) -> set[str]:
        rows = self.con.execute("select column_name from information_schema.columns where table_schema = ? "
                                "and table_name = ?", [schema or self.schema, table]).fetchall()
        return {r[0] for r in rows}

    def df(self, sql: str) -> pd.DataFrame:
        return self.con.sql(sql.replace("{s}", self.schema).replace("{m}", self.model)).df()

    def close(self) -> None:
        self.con.close()


@dataclass
class MonthInputs:
    month: str
    months: list[str]                       # the 13 months ending with `month`
    reimb: pd.DataFrame                     # reimbursement_monthly of the month
    units: dict                             # hsa_id -> registry row
    listing: pd.DataFrame                   # listing_monthly of the month
    indicators: pd.DataFrame                # indicators_monthly, 13 months, every VC and REGION
    goals: pd.DataFrame | None              # reimbursement_goals_monthly of the month
    fees: pd.DataFrame | None               # reimbursement_visit_fees_monthly of the month
    contacts: pd.DataFrame                  # contacts_monthly of the month
    exceptions: pd.DataFrame                # reimbursement_exceptions_monthly of the month
    targets: pd.DataFrame                   # month, indicator, profession, low, high, direction, pays (13 months)
    version: dict | None = None             # the model version's rates (None without the model tables)
    capitation: pd.DataFrame | None = None  # vc, age_from, age_to, sex, listed, sek_year, amount
    person_sums: pd.DataFrame | None = None  # vc, listed, acg, cni, sabo_count
    geography: dict = field(default_factory=dict)      # rural_tier -> SEK per month
    grants: pd.DataFrame | None = None      # development grant rows: per VC and programme (mart) or registry rows
    grants_split: bool = False              # grants come split per VC (reimbursement_development_grants_monthly)
    extra_assignments: pd.DataFrame | None = None   # reimbursement_extra_assignments_monthly of the month
    deductions: pd.DataFrame | None = None  # visits elsewhere per VC (and performing unit type), with the rate
    _parts: dict = field(default_factory=dict, repr=False)

    PER_VC = ("indicators", "goals", "fees", "contacts", "exceptions", "capitation", "person_sums",
              "extra_assignments", "deductions", "grants")

    def split(self) -> None:
        """Split every per-VC table by VC once (before the workers fork): a filter per VC scans the
        whole table, ~850 times a national month."""
        for name in self.PER_VC:
            frame = getattr(self, name)
            if frame is not None and "vardcentral_hsa_id" in frame.columns:
                self._parts[name] = ({vc: part for vc, part in frame.groupby("vardcentral_hsa_id", sort=False)},
                                     frame.iloc[0:0])

    def of(self, name: str, vc: str) -> pd.DataFrame | None:
        """The VC's rows of a per-VC table (None where the table is not in the source)."""
        frame = getattr(self, name)
        if frame is None:
            return None
        if name not in self._parts:
            return frame[frame["vardcentral_hsa_id"] == vc] if "vardcentral_hsa_id" in frame.columns else frame
        parts, empty = self._parts[name]
        return parts.get(vc, empty)
    quality: pd.DataFrame | None = None     # data_quality_monthly of the month


def registry_sql(src: Source, month: str) -> str:
    """The registry as it was at the month's end: a unit with several rows (SPEC §3.5 history,
    `valid_from`…`valid_to` inclusive, empty = open) shows the row valid on the last day."""
    if not {"valid_from", "valid_to"} <= src.columns("vardcentraler"):
        return "select * from {s}.vardcentraler"
    last_day = f"last_day(date '{month}-01')"
    return (f"select * from {{s}}.vardcentraler where (valid_from is null or valid_from <= {last_day}) "
            f"and (valid_to is null or valid_to >= {last_day})")


def _optional(src: Source, table: str, sql: str, schema: str | None = None) -> pd.DataFrame | None:
    return src.df(sql) if src.has(table, schema) else None


def load_month(path: Path, month: str) -> MonthInputs:
    check_month(month)
    months = months_back(month, 13)
    in_months = ", ".join(f"'{m}'" for m in months)
    src = Source(Path(path))
    try:
        reimb = src.df(f"select * from {{s}}.reimbursement_monthly where month = '{month}' "
                       "order by vardcentral_hsa_id")
        units = {u["hsa_id"]: u for u in src.df(registry_sql(src, month)).to_dict("records")}
        listing = src.df(f"select * from {{s}}.listing_monthly where month = '{month}'")
        indicators = src.df(f"select * from {{s}}.indicators_monthly where month in ({in_months})")
        contacts = src.df(f"select * from {{s}}.contacts_monthly where month = '{month}'")
        goals = _optional(src, "reimbursement_goals_monthly",
                          f"select * from {{s}}.reimbursement_goals_monthly where month = '{month}'")
        fees = _optional(src, "reimbursement_visit_fees_monthly",
                         f"select * from {{s}}.reimbursement_visit_fees_monthly where month = '{month}'")
        exceptions = _optional(src, "reimbursement_exceptions_monthly",
                               f"select * from {{s}}.reimbursement_exceptions_monthly where month = '{month}'")
        quality = _optional(src, "data_quality_monthly",
                            f"select * from {{s}}.data_quality_monthly where month in ({in_months})")
        targets = _targets(src, in_months)
        inputs = MonthInputs(
            month=month, months=months, reimb=reimb, units=units, listing=listing, indicators=indicators,
            goals=goals, fees=fees, contacts=contacts, targets=targets, quality=quality,
            exceptions=exceptions if exceptions is not None else pd.DataFrame(
                columns=["month", "vardcentral_hsa_id", "exception", "item_count"]))
        if src.has("reimbursement_extra_assignments_monthly"):
            inputs.extra_assignments = src.df(f"select * from {{s}}.reimbursement_extra_assignments_monthly "
                                              f"where month = '{month}'")
        if src.has("reimbursement_development_grants_monthly"):
            inputs.grants, inputs.grants_split = src.df(
                f"select * from {{s}}.reimbursement_development_grants_monthly where month = '{month}'"), True
        if src.has("stg_model__versions", src.model) and not reimb.empty:
            _load_model_bases(src, inputs)
    finally:
        src.close()
    inputs.split()
    return inputs


def targets_of(path: Path, month: str) -> pd.DataFrame:
    """Every target of one month (as MonthInputs.targets holds them for its 13 months)."""
    check_month(month)
    src = Source(Path(path))
    try:
        return _targets(src, f"'{month}'")
    finally:
        src.close()


def _targets(src: Source, in_months: str) -> pd.DataFrame:
    """Every target per month of the 13: the goals (from the goals mart: the version valid each
    month) and the follow-up targets that pay nothing (the model's, where it has them)."""
    columns = ["month", "indicator", "profession", "low", "high", "direction", "pays"]
    frames = []
    if src.has("reimbursement_goals_monthly"):
        has_direction = "direction" in src.columns("reimbursement_goals_monthly")
        frames.append(src.df(
            f"select month, indicator, profession, any_value(low) as low, any_value(high) as high, "
            f"{'any_value(direction)' if has_direction else 'null'} as direction, true as pays "
            f"from {{s}}.reimbursement_goals_monthly where month in ({in_months}) group by all"))
    if src.has("stg_model__follow_up_targets", src.model):
        frames.append(src.df(
            f"select distinct r.month, t.indicator, t.profession, t.low, t.high, t.direction, false as pays "
            f"from {{s}}.reimbursement_monthly r join {{m}}.stg_model__follow_up_targets t "
            f"on t.version_id = r.model_version_id where r.month in ({in_months})"))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(frames, ignore_index=True)
    # a goal and a follow-up target on the same indicator: the goal's (it pays)
    frame = frame.sort_values("pays", ascending=False).drop_duplicates(["month", "indicator", "profession"])
    return frame[columns].reset_index(drop=True)


def _load_model_bases(src: Source, inputs: MonthInputs) -> None:
    month = inputs.month
    version_ids = sorted({int(v) for v in inputs.reimb["model_version_id"].dropna()})
    if len(version_ids) != 1:
        return
    version_id = version_ids[0]
    versions = src.df(f"select * from {{m}}.stg_model__versions where version_id = {version_id}")
    if versions.empty:
        return
    inputs.version = versions.iloc[0].to_dict()
    if src.has("stg_model__deductions", src.model):   # a deduction per performing unit type
        inputs.version["deduction_rates"] = dict(src.df(
            f"select unit_type, sek_per_visit from {{m}}.stg_model__deductions where version_id = {version_id}"
        ).itertuples(index=False, name=None))
    inputs.geography = dict(src.df(f"select rural_tier, sek_per_month from {{m}}.stg_model__geography "
                                   f"where version_id = {version_id}").itertuples(index=False, name=None))
    inputs.capitation = src.df(f"""
        select p.vardcentral_hsa_id, c.age_from, c.age_to, p.sex, count(*) as listed,
               any_value(case when p.sex = 'female' then c.female_sek_year else c.male_sek_year end) as sek_year,
               sum(p.capitation) as amount
        from {{s}}.reimbursement_person_monthly p
        left join {{m}}.stg_model__capitation c
            on c.version_id = {version_id} and p.age >= c.age_from and (c.age_to is null or p.age <= c.age_to)
        where p.month = '{month}'
        group by all order by 1, 2, 4""")
    inputs.person_sums = src.df(f"""
        select vardcentral_hsa_id, count(*) as listed, sum(acg) as acg, sum(cni) as cni,
               count(*) filter (where sabo <> 0) as sabo_count
        from {{s}}.reimbursement_person_monthly where month = '{month}' group by all""")
    if not inputs.grants_split and src.has("stg_reference__development_grants", src.model):
        grant_columns = src.columns("stg_reference__development_grants", src.model)
        programme = "programme" if "programme" in grant_columns else "null"
        split = "split" if "split" in grant_columns else "'listed'"
        inputs.grants = src.df(f"select hsa_id, pot_sek, {programme} as programme, {split} as split "
                               f"from {{m}}.stg_reference__development_grants where payout_month = '{month}'")
    inputs.deductions = _deductions(src, month, inputs.version)


def _deductions(src: Source, month: str, version: dict) -> pd.DataFrame | None:
    """Visits elsewhere per listing VC (and performing unit type) with the rate per visit, from the
    intermediate model when it holds the month (it holds the last dbt run's months: the months
    statements are written for in a run), else None (the count is then worked out from the rate)."""
    table = "reimbursement__int_visits_elsewhere_counted"
    if not src.has(table, "intermediate"):
        return None
    columns = src.columns(table, "intermediate")
    if "sek_per_visit" in columns and "performing_unit_type" in columns:
        frame = src.df(f"select vardcentral_hsa_id, performing_unit_type, visits_elsewhere_count, sek_per_visit "
                       f"from intermediate.{table} where month = '{month}'")
    elif "visits_elsewhere_count" in columns and version.get("visits_elsewhere_deduction_sek") is not None:
        frame = src.df(f"select vardcentral_hsa_id, null as performing_unit_type, visits_elsewhere_count, "
                       f"{float(version['visits_elsewhere_deduction_sek'])} as sek_per_visit "
                       f"from intermediate.{table} where month = '{month}'")
    else:
        return None
    return frame if not frame.empty else None
