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
"""
from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration.defs.publication.tables import PARQUET_OPTIONS
from core.indicator_catalogue import catalogue
from core.vocabulary import COMPONENTS

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
}


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
    amounts = ",\n               ".join(f"sum({c}) as {c}" for c in (*COMPONENTS, "total"))
    return f"""
    with files as (select * from file_months),
    {_period_sql(grain)},
    monthly as (
        select m.*, p.period
        from read_parquet({files!r}, union_by_name = true) m join period_of_month p using (month)),
    summed as (
        select period, vardcentral_hsa_id, count(*) as vc_months,
               {amounts}
        from monthly group by period, vardcentral_hsa_id)
    select s.period, b.period_start, b.period_end, b.months_in_period, b.months_published,
           b.is_complete, b.last_published_month, s.* exclude (period)
    from summed s join period_bounds b using (period)
    order by s.period, s.vardcentral_hsa_id
    """


def compute_period_tables(published: Path, catalog: dict, min_cell: int) -> dict[str, pa.Table]:
    """Every period table over the catalog's published months, as Arrow tables."""
    out = {}
    if not catalog.get("months"):
        return out
    con = duckdb.connect()
    try:
        kinds = catalogue()[["indicator_code", "period_kind", "value_kind"]]
        con.register("indicator_kinds", kinds)
        for table, (grain, source) in _PERIODS.items():
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


def _min_cell(catalog: dict) -> int:
    return int(catalog.get("min_cell") or DEFAULT_MIN_CELL)


def stage_period_files(published: Path, stage: Path, catalog: dict, months: set[str]) -> list[Path]:
    """The current Parquet of every period holding one of `months` (months with a new version, or
    whose current files are repaired), written into the commit's staging folder; records in
    `catalog["periods"]` the month versions each period was built from."""
    if not months or not catalog.get("months"):
        return []
    tables = compute_period_tables(published, catalog, _min_cell(catalog))
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


def write_period_tables(db_path: Path, published: Path, catalog: dict) -> None:
    """Replace the period tables in the (staged) published.duckdb with every period of `catalog`,
    each table and column described (the columns shared with the monthly tables by their text)."""
    from orchestration.defs.publication.published_db import _literal, load_descriptions

    tables = compute_period_tables(published, catalog, _min_cell(catalog))
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
