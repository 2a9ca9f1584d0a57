"""Quarter and year (SPEC §5.1): indicators and reimbursement per calendar quarter and year,
computed at publication time from the PUBLISHED months only.

The published state is the catalog (catalog.json), which the warehouse does not know: the
warehouse may hold a month that was built but blocked, or a correction not yet published. So the
period tables are rolled up here, with DuckDB, from the monthly Parquet of each month's latest
published version (the version dirs a catalog names), inside the publication's one commit:

    indicators_quarterly/period=<YYYY-Qn>/data.parquet   a period's current rows (BI)
    indicators_yearly/period=<YYYY>/data.parquet
    reimbursement_quarterly/period=<YYYY-Qn>/data.parquet
    reimbursement_yearly/period=<YYYY>/data.parquet
    published.duckdb                                      the four tables, every period

A period's Parquet is rewritten only when one of its months got a new version; the catalog's
`periods` entry names the month versions each period was built from.

How an indicator rolls up is its `period_kind` in the indicator catalogue (the one home of the
codes): `stock` takes the row of the period's last published month (a VC not open then has no
row there, so no stock row for the period), `flow` sums the months' counts (null months skipped,
all null → null), `events` is Σ numerators / Σ denominators. `REGION` is rolled up like a VC:
its monthly rows are the sums of the VC rows, so its period rows are too. Suppression is the
monthly rule with the suppression limit of the run that published (`min_cell`).

Beside each VC's reimbursement of the period stand the payouts of the period (SPEC §6.1): the
payouts whose payout month lies in the period, i.e. what was paid in it, adjustments of earlier
months included. A payout is made when its month is first published, so a period's payouts
change only with one of its months, like its sums.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.indicator_catalogue import catalogue
from core.vocabulary import COMPONENTS
from orchestration.defs.publication.payouts import PAYOUT_COLUMNS, load_ledger
from orchestration.defs.publication.tables import PARQUET_OPTIONS

PERIOD_TABLES = ("indicators_quarterly", "indicators_yearly", "reimbursement_quarterly",
                 "reimbursement_yearly")
# table -> (grain of the period, monthly source)
_PERIODS = {
    "indicators_quarterly": ("quarter", "indicators_monthly"),
    "indicators_yearly": ("year", "indicators_monthly"),
    "reimbursement_quarterly": ("quarter", "reimbursement_monthly"),
    "reimbursement_yearly": ("year", "reimbursement_monthly"),
}
DEFAULT_MIN_CELL = 20

DESCRIPTIONS = {
    "indicators_quarterly": "Indikatorer per vårdcentral (och REGION), kön och yrke per kalenderkvartal, "
                            "från publicerade månader (SPEC §5.1).",
    "indicators_yearly": "Indikatorer per vårdcentral (och REGION), kön och yrke per kalenderår, "
                         "från publicerade månader; ett ofullständigt år är hittills i år (SPEC §5.1).",
    "reimbursement_quarterly": "Ersättning per vårdcentral och komponent per kalenderkvartal: summan av "
                               "varje publicerad månads senaste version (SPEC §5.1).",
    "reimbursement_yearly": "Ersättning per vårdcentral och komponent per kalenderår: summan av varje "
                            "publicerad månads senaste version (SPEC §5.1).",
    "period": "Perioden: kvartal 'YYYY-Qn' eller år 'YYYY'.",
    "period_start": "Periodens första dag.",
    "period_end": "Periodens sista dag.",
    "months_in_period": "Antal månader i perioden (3 eller 12).",
    "months_published": "Antal publicerade månader i perioden som raden bygger på.",
    "is_complete": "Sant när alla periodens månader är publicerade; annars är raden hittills (to date).",
    "last_published_month": "Periodens sista publicerade månad (YYYY-MM): ett lagervärde är dess rad.",
    "period_kind": "Hur indikatorn summeras över perioden: stock (periodens sista publicerade månad), "
                   "flow (summa av månaderna) eller events (Σ täljare / Σ nämnare).",
    "vc_months": "Antal publicerade månader i perioden med en ersättningsrad för vårdcentralen.",
    "payouts_made": "Antal utbetalningar till vårdcentralen i perioden (utbetalningar vars månad ligger i "
                    "perioden, SPEC §6.1).",
    "paid_month_total": "Summa av utbetalningarnas månadsersättning (payouts.month_total) i perioden: "
                        "månadernas ersättning enligt den version som betalades (SEK, oavrundad).",
    "paid_adjustments_total": "Summa av efterregleringar av tidigare månader som reglerades i periodens "
                              "utbetalningar (payouts.adjustments_total, SEK, oavrundad).",
    "amount_paid": "Utbetalt i perioden: summa av utbetalningarnas belopp att betala (payouts.amount_to_pay, "
                   "avrundade till öre), efterregleringar inräknade.",
}
# The payout columns of reimbursement_quarterly / _yearly: (column, aggregate over the payouts rows)
PAYOUT_SUMS = (("payouts_made", "count(*)"), ("paid_month_total", "sum(month_total)"),
               ("paid_adjustments_total", "sum(adjustments_total)"), ("amount_paid", "sum(amount_to_pay)"))


def period_of(month: str, grain: str) -> str:
    year, mon = month.split("-")
    return year if grain == "year" else f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def periods_of_months(months, grain: str) -> set[str]:
    return {period_of(m, grain) for m in months}


def suppression_limit(con: duckdb.DuckDBPyConnection) -> int | None:
    """The `min_cell` the warehouse's marts were built with (raw.run_window), if recorded."""
    try:
        row = con.execute("select min_cell from raw.run_window limit 1").fetchone()
    except duckdb.Error:
        return None
    return int(row[0]) if row else None


def _sources(published: Path, catalog: dict, table: str) -> pd.DataFrame:
    """file -> month for the latest published version of each month."""
    rows = [(str((published / "versions" / m / f"v{int(e['latest_version']):04d}" / f"{table}.parquet").resolve()), m)
            for m, e in sorted(catalog["months"].items())]
    return pd.DataFrame(rows, columns=["filename", "file_month"])


_PERIOD_COLUMNS = """
    period_of_month as (
        select distinct file_month as month,
               {period_expr} as period
        from files),
    period_months as (
        select period, count(*) as months_published, max(month) as last_published_month
        from period_of_month group by period),
    period_bounds as (
        select period, months_published, last_published_month,
               {start_expr} as period_start,
               cast({start_expr} + interval ({months} - 1) month + interval 1 month - interval 1 day as date)
                   as period_end,
               {months} as months_in_period,
               months_published = {months} as is_complete
        from period_months)
"""


def _period_sql(grain: str) -> str:
    if grain == "year":
        period_expr = "substr(file_month, 1, 4)"
        start_expr = "cast(period || '-01-01' as date)"
        months = 12
    else:
        period_expr = ("substr(file_month, 1, 4) || '-Q' || "
                       "cast((cast(substr(file_month, 6, 2) as integer) - 1) // 3 + 1 as varchar)")
        start_expr = ("make_date(cast(substr(period, 1, 4) as integer), "
                      "(cast(substr(period, 7, 1) as integer) - 1) * 3 + 1, 1)")
        months = 3
    return _PERIOD_COLUMNS.format(period_expr=period_expr, start_expr=start_expr, months=months)


def _indicators_sql(grain: str, files: list[str], min_cell: int) -> str:
    return f"""
    with files as (select * from file_months),
    {_period_sql(grain)},
    monthly as (
        select m.*, p.period, c.period_kind, c.value_kind
        from read_parquet({files!r}, union_by_name = true) m
        join period_of_month p using (month)
        join indicator_kinds c using (indicator_code)),
    stock as (
        select m.period, m.vardcentral_hsa_id, m.indicator_code, m.sex, m.profession, m.period_kind,
               m.value_kind, m.unit_basis, m.numerator, m.denominator, m.window_months
        from monthly m join period_bounds b
          on m.period = b.period and m.month = b.last_published_month
        where m.period_kind = 'stock'),
    summed as (
        select period, vardcentral_hsa_id, indicator_code, sex, profession,
               any_value(period_kind) as period_kind, any_value(value_kind) as value_kind,
               any_value(unit_basis) as unit_basis,
               sum(numerator) as numerator,
               case when any_value(period_kind) = 'events' then sum(denominator) end as denominator,
               cast(null as integer) as window_months
        from monthly where period_kind in ('flow', 'events')
        group by period, vardcentral_hsa_id, indicator_code, sex, profession),
    rolled as (select * from stock union all by name select * from summed)
    select r.period, b.period_start, b.period_end, b.months_in_period, b.months_published,
           b.is_complete, b.last_published_month,
           r.vardcentral_hsa_id, r.indicator_code, r.sex, r.profession, r.period_kind,
           cast(r.numerator as double) as numerator,
           cast(r.denominator as bigint) as denominator,
           cast(case when r.value_kind = 'count' then r.numerator
                     else r.numerator / nullif(r.denominator, 0) end as double) as value,
           case when r.value_kind = 'count' then coalesce(r.numerator between 1 and {min_cell} - 1, false)
                when r.value_kind = 'ratio' then false
                else coalesce(r.denominator, 0) < {min_cell} end as is_suppressed,
           cast(r.window_months as integer) as window_months,
           r.unit_basis
    from rolled r join period_bounds b using (period)
    order by r.period, r.vardcentral_hsa_id, r.indicator_code, r.sex, r.profession
    """


def _reimbursement_sql(grain: str, files: list[str]) -> str:
    """Per period and VC: each component summed over the published months, and beside it the
    period's payouts (`payouts_rows`: payout_month, vardcentral_hsa_id and the amounts). A VC paid
    in the period without a reimbursement row of its own there (a closed VC settling an
    adjustment) has components 0 and vc_months 0; a VC with months but no payout has 0 paid."""
    amounts = ",\n               ".join(f"sum({c}) as {c}" for c in (*COMPONENTS, "total"))
    zero = ", ".join(f"coalesce(s.{c}, 0.0) as {c}" for c in (*COMPONENTS, "total"))
    paid = ",\n               ".join(f"{agg} as {name}" for name, agg in PAYOUT_SUMS)
    paid_cols = ", ".join(f"coalesce(p.{name}, 0) as {name}" for name, _ in PAYOUT_SUMS)
    return f"""
    with files as (select * from file_months),
    {_period_sql(grain)},
    monthly as (
        select m.*, p.period
        from read_parquet({files!r}, union_by_name = true) m join period_of_month p using (month)),
    summed as (
        select period, vardcentral_hsa_id, count(*) as vc_months,
               {amounts}
        from monthly group by period, vardcentral_hsa_id),
    paid as (
        select p.period, r.vardcentral_hsa_id,
               {paid}
        from payouts_rows r join period_of_month p on p.month = r.payout_month
        group by p.period, r.vardcentral_hsa_id)
    select b.period, b.period_start, b.period_end, b.months_in_period, b.months_published,
           b.is_complete, b.last_published_month,
           coalesce(s.vardcentral_hsa_id, p.vardcentral_hsa_id) as vardcentral_hsa_id,
           coalesce(s.vc_months, 0) as vc_months, {zero}, {paid_cols}
    from summed s full join paid p on p.period = s.period and p.vardcentral_hsa_id = s.vardcentral_hsa_id
    join period_bounds b on b.period = coalesce(s.period, p.period)
    order by 1, 8
    """


def _payout_rows(published: Path, payouts: pd.DataFrame | None) -> pd.DataFrame:
    """The payouts ledger's rows (the one given, else the one in force under `published`)."""
    frame = load_ledger(published).payouts if payouts is None else payouts
    frame = frame.reindex(columns=PAYOUT_COLUMNS)
    return frame.astype({"payout_month": "string", "vardcentral_hsa_id": "string", "month_total": "float64",
                         "adjustments_total": "float64", "amount_to_pay": "float64"})[
        ["payout_month", "vardcentral_hsa_id", "month_total", "adjustments_total", "amount_to_pay"]]


def compute_period_tables(published: Path, catalog: dict, min_cell: int, payouts: pd.DataFrame | None = None,
                          tables: tuple[str, ...] = PERIOD_TABLES) -> dict[str, pa.Table]:
    """The period `tables` over the catalog's published months, as Arrow tables. `payouts` is the
    payout ledger's rows (default: the ledger in force under `published`); only payouts of the
    catalog's months count. A catalog narrowed to some months (the months of a year up to one
    month) gives that year to date."""
    out = {}
    if not catalog.get("months"):
        return out
    con = duckdb.connect()
    try:
        kinds = catalogue()[["indicator_code", "period_kind", "value_kind"]]
        con.register("indicator_kinds", kinds)
        if any(_PERIODS[t][1] == "reimbursement_monthly" for t in tables):
            con.register("payouts_rows", _payout_rows(published, payouts))
        for table in tables:
            grain, source = _PERIODS[table]
            file_months = _sources(published, catalog, source)
            con.register("file_months", file_months)
            files = list(file_months["filename"])
            sql = _indicators_sql(grain, files, int(min_cell)) if source == "indicators_monthly" \
                else _reimbursement_sql(grain, files)
            out[table] = con.sql(sql).to_arrow_table()
            con.unregister("file_months")
    finally:
        con.close()
    return out


def year_to_date_tables(published: Path, catalog: dict, month: str,
                        tables: tuple[str, ...] = ("indicators_yearly", "reimbursement_yearly"),
                        ) -> dict[str, pd.DataFrame]:
    """The yearly rows of `month`'s year up to and including `month`, from the months published
    in it (each in its latest version) and the payouts made in them: the year to date a
    statement of `month` shows. Empty when none of those months is published."""
    year = month[:4]
    months = {m: e for m, e in catalog.get("months", {}).items() if m[:4] == year and m <= month}
    narrowed = {**catalog, "months": months}
    computed = compute_period_tables(published, narrowed, min_cell_of(catalog), tables=tables)
    return {t: computed[t].to_pandas() for t in tables if t in computed}


def current_path(published: Path, table: str, period: str) -> Path:
    return published / table / f"period={period}" / "data.parquet"


def _write_parquet(table, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, str(tmp), **PARQUET_OPTIONS)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def min_cell_of(catalog: dict) -> int:
    return int(catalog.get("min_cell") or DEFAULT_MIN_CELL)


def stage_period_files(stage: Path, catalog: dict, months: set[str], tables: dict[str, pa.Table]) -> list[Path]:
    """The current Parquet of every period holding one of `months` (months with a new version, or
    whose current files are repaired), taken from `tables` (compute_period_tables over the new
    catalog) and written into the commit's staging folder; records in `catalog["periods"]` the
    month versions each period was built from."""
    if not months or not catalog.get("months"):
        return []
    written = []
    periods = catalog.setdefault("periods", {})
    for table, (grain, _) in _PERIODS.items():
        data = tables[table]
        for period in sorted(periods_of_months(months & set(catalog["months"]), grain)):
            rows = data.filter(pc.equal(data["period"], period))
            written.append(_write_parquet(rows, current_path(stage, table, period)))
            periods[period] = {m: int(e["latest_version"]) for m, e in sorted(catalog["months"].items())
                               if period_of(m, grain) == period}
    catalog["periods"] = dict(sorted(periods.items()))
    return written


def _column_text(monthly: dict, table: str, column: str) -> str:
    own = DESCRIPTIONS.get(column)
    if own:
        return own
    source = _PERIODS[table][1]
    return monthly.get(source, ("", {}))[1].get(column, "")


def write_period_tables(db_path: Path, tables: dict[str, pa.Table]) -> None:
    """Replace the period tables in the (staged) published.duckdb with `tables` (every period of
    the catalog), each table and column described (the columns shared with the monthly tables
    by their text)."""
    from orchestration.defs.publication.published_db import _literal, load_descriptions

    monthly = load_descriptions()
    con = duckdb.connect(str(db_path))
    try:
        for table in PERIOD_TABLES:
            con.execute(f'drop table if exists "{table}"')
            if table not in tables:
                continue
            con.register("period_rows", tables[table])
            con.execute(f'create table "{table}" as select * from period_rows')
            con.unregister("period_rows")
            con.execute(f'comment on table "{table}" is {_literal(DESCRIPTIONS[table])}')
            for column in tables[table].column_names:
                text = _column_text(monthly, table, column)
                if text:
                    con.execute(f'comment on column "{table}"."{column}" is {_literal(text)}')
        con.execute("checkpoint")
    finally:
        con.close()
