"""The warehouse: one embedded DuckDB file written by ingestion (Dagster) and by dbt, never at once.

`raw.*` tables are the contract between the Python ingestion and dbt's staging layer
(docs/architecture.md). Ingestion replaces exactly one month of a source at a time.
Connections are opened per operation and closed, so the dbt subprocess can take the file.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from core import indicator_catalogue, vocabulary
from core.vocabulary import COMPONENTS, DEDUCTION_COMPONENTS, PERSON_COMPONENTS

RAW_DDL = """
create schema if not exists raw;

create table if not exists raw.listing (
    month varchar not null,              -- 'YYYY-MM' the snapshot is for (state at month end)
    person_key varchar not null,         -- HMAC-SHA256 of the personnummer
    sex varchar not null,                -- 'female' | 'male'
    birth_date date not null,
    vardcentral_hsa_id varchar not null,
    listed_from date not null,
    listing_type varchar not null,       -- 'aktiv' | 'passiv'
    fast_lakare_hsa_id varchar,
    is_sabo boolean not null,
    deso varchar,
    source_file varchar not null,
    source_line bigint not null
);

create table if not exists raw.visits (
    month varchar not null,
    contact_id varchar not null,
    person_key varchar not null,         -- HMAC of the normalised identity value
    person_id_kind varchar not null,     -- 'personnummer' | 'samordningsnummer' | 'reserve'
    sex varchar,                         -- null when unknown (reserve numbers)
    birth_date date,
    vardcentral_hsa_id varchar not null, -- performing unit as delivered (filial not yet mapped)
    contact_date date not null,
    contact_type varchar not null,
    profession varchar not null,
    staff_hsa_id varchar,
    status varchar not null,
    is_new_problem boolean not null,
    first_contact_date date,
    is_patient_chose_later boolean not null,
    source_file varchar not null,
    source_line bigint not null
);

create table if not exists raw.telephony (
    month varchar not null,
    call_id varchar not null,
    vardcentral_hsa_id varchar not null,
    called_at timestamp not null,
    queue varchar not null,
    outcome varchar not null,
    callback_at timestamp,
    is_in_opening_hours boolean not null,
    source_file varchar not null,
    source_line bigint not null
);

-- One row per quarantined (row, reason); the offending value is masked, never raw.
create table if not exists raw.quarantine (
    month varchar not null,
    source varchar not null,             -- 'listing' | 'visits' | 'telephony'
    source_file varchar not null,
    source_line bigint,                  -- null for file-level findings
    column_name varchar,
    reason varchar not null,
    masked_value varchar
);

-- The month's current delivery per source, with what reading it found.
create table if not exists raw.source_files (
    month varchar not null,
    source varchar not null,
    source_file varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    file_format varchar not null,        -- 'csv' | 'xlsx'
    encoding varchar,
    separator varchar,
    extra_columns varchar,               -- comma-separated, ignored and reported
    rows_read bigint not null,
    rows_accepted bigint not null,
    rows_quarantined bigint not null,
    ingest_fingerprint varchar not null, -- file checksum + registry + key: unchanged means a no-op
    ingested_at timestamp not null
);

-- File-level errors of the month's current delivery (missing file, missing column, ...):
-- the month is blocked at the gate until a good delivery replaces them.
create table if not exists raw.ingest_errors (
    month varchar not null,
    source varchar not null,
    source_file varchar,
    message varchar not null,
    seen_at timestamp not null
);

-- The months (and suppression limit) the current dbt build is for; written by Dagster before
-- each build, read by the models at query time (dbt_project/macros/month_window.sql).
create table if not exists raw.run_window (
    month_from varchar not null,
    month_to varchar not null,
    min_cell integer not null
);

-- The fingerprint of the code dbt's views were last built from
-- (orchestration/defs/transform/views.py): a month rebuilds them only when it changes.
create table if not exists raw.dbt_views (
    fingerprint varchar not null,
    built_at timestamp not null
);

-- Checksums of the reference files as last loaded (reloaded only when one changes).
create table if not exists raw.reference_files (
    file_name varchar not null,
    sha256 varchar not null,
    loaded_at timestamp not null
);

-- Why the landing's reference files could not be loaded (at most one row): every month is
-- blocked, keeping what it published, until they load again (a load, or an unchanged one,
-- clears it). The run summary and `vardval status` show it as the months' reason.
create table if not exists raw.reference_errors (
    message varchar not null,
    seen_at timestamp not null
);

-- Every delivery ever seen: 'new', 'correction' (checksum changed) or 'unchanged' (no-op).
create table if not exists raw.delivery_ledger (
    month varchar not null,
    source varchar not null,
    source_file varchar not null,
    sha256 varchar not null,
    status varchar not null,
    seen_at timestamp not null
);

-- Reference data, replaced whole on each load.
create table if not exists raw.vardcentraler (
    hsa_id varchar not null,
    name varchar not null,
    unit_type varchar not null,          -- 'vardcentral' | 'filial' | 'jour' | 'digital'
    parent_hsa_id varchar,
    owner_type varchar not null,         -- 'offentlig' | 'privat'
    provider_name varchar,
    municipality_code varchar,
    opened_on date not null,
    closed_on date,
    rural_tier integer,                  -- 0-3; vardcentral rows only (SPEC §3.5)
    listing_cap integer,
    cap_from date,
    cap_to date,
    valid_from date,                     -- the row's validity, inclusive; null = open
    valid_to date,
    vat_compensation_pct double,         -- replaces the model's rate for this VC when given
    provider_org_number varchar
);
-- Warehouses made before the registry had history.
alter table raw.vardcentraler add column if not exists valid_from date;
alter table raw.vardcentraler add column if not exists valid_to date;
alter table raw.vardcentraler add column if not exists vat_compensation_pct double;
alter table raw.vardcentraler add column if not exists provider_org_number varchar;

-- Shipped with the code, rewritten by ensure_schema when they differ: the fixed vocabularies
-- (core/vocabulary.py, the model's components), the indicator catalogue
-- (core/indicator_catalogue.csv) and listing_monthly's reporting age bands.
create table if not exists raw.vocabulary (
    vocabulary varchar not null, value varchar not null, sort_order integer not null
);
create table if not exists raw.indicator_catalogue (
    indicator_code varchar not null, name_sv varchar not null, description varchar not null,
    unit_basis varchar not null, value_kind varchar not null, period_kind varchar not null,
    window_kind varchar, window_months integer, higher_is_better boolean,
    is_split_by_sex boolean not null, is_split_by_profession boolean not null, sort_order integer not null
);
create table if not exists raw.reporting_age_bands (
    age_band varchar not null, age_from integer not null, age_to integer, sort_order integer not null
);

create table if not exists raw.cni_areas (deso varchar not null, year integer not null, cni double not null);
create table if not exists raw.acg_weights (person_key varchar not null, year integer not null, acg_weight double not null);
create table if not exists raw.development_grants (
    payout_month varchar not null, pot_sek double not null, hsa_id varchar not null,
    programme varchar,                   -- null: the month's unnamed programme
    split varchar                        -- 'listed' (null = listed) | 'equal'
);
-- Tilläggsuppdrag: a fixed monthly amount per VC and assignment, inclusive validity.
create table if not exists raw.extra_assignments (
    hsa_id varchar not null, assignment varchar not null, sek_per_month double not null,
    valid_from date not null, valid_to date    -- null = open-ended
);

-- The reimbursement model (reimbursement_model.yaml), one row set per version.
create table if not exists raw.model_versions (
    version_id integer not null,         -- 1, 2, ... in order of valid_from
    valid_from date not null,
    valid_to date,                       -- inclusive; null = open-ended
    acg_sek_per_weight_year double not null,
    cni_sek_per_listed_year double not null,
    sabo_sek_per_resident_month double not null,
    start_grant_sek_per_month double not null,
    start_grant_months integer not null,
    vat_compensation_pct double not null
);
create table if not exists raw.model_capitation (
    version_id integer not null, age_from integer not null, age_to integer,
    female_sek_year double not null, male_sek_year double not null
);
create table if not exists raw.model_geography (
    version_id integer not null, rural_tier integer not null, sek_per_month double not null
);
create table if not exists raw.model_visit_fees (
    version_id integer not null, rule_order integer not null,
    contact_type varchar not null, profession varchar not null,   -- '*' matches any
    own_listed double not null, other_listed double not null, not_listed double not null
);
-- SEK deducted per visit elsewhere, by the performing unit's type (three rows per version).
create table if not exists raw.model_deductions (
    version_id integer not null, unit_type varchar not null, sek_per_visit double not null
);
create table if not exists raw.model_goals (
    version_id integer not null, goal_order integer not null,
    indicator varchar not null, profession varchar not null,
    payout varchar not null,             -- 'all_or_nothing' | 'linear'
    low double, high double not null, sek_per_listed_month double not null,
    direction varchar                    -- 'higher' (null = higher) | 'lower'
);
-- Targets that pay nothing (follow_up_targets), shown against the indicators.
create table if not exists raw.model_follow_up_targets (
    version_id integer not null, target_order integer not null,
    indicator varchar not null, profession varchar not null,
    direction varchar not null,          -- 'higher' | 'lower'
    low double, high double not null
);
"""

# Columns added to reference tables after a warehouse may have been created: reference tables
# are replaced whole on each load, so adding (or dropping) a column is all they need.
RAW_COLUMN_CHANGES = """
alter table raw.development_grants add column if not exists programme varchar;
alter table raw.development_grants add column if not exists split varchar;
alter table raw.model_goals add column if not exists direction varchar;
alter table raw.model_versions drop column if exists visits_elsewhere_deduction_sek;
"""

MONTHLY_RAW_TABLES = vocabulary.SOURCES


class WarehouseBusy(RuntimeError):
    pass


DEFAULT_MEMORY_LIMIT = "4GB"


def duckdb_memory_limit() -> str:
    """DuckDB's buffer limit, for this process's connections and dbt's (profiles.yml reads the
    same variable). DuckDB's default, 80 % of RAM, let a national dbt build reach 6.3 GiB;
    above the limit its joins, aggregates and sorts spill to <warehouse>.tmp instead."""
    return os.environ.get("VARDVAL_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT


@contextlib.contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open, yield, close. A file held by another process becomes a clear WarehouseBusy error."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run a month first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only,
                             config={"preserve_insertion_order": False,
                                     "memory_limit": duckdb_memory_limit()})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
            who = f" ({Path(holder.group(1)).name}, PID {holder.group(2)})" if holder else ""
            raise WarehouseBusy(
                f"the warehouse {path} is held by another process{who}: another run, or a tool "
                "with it open. Wait for it to finish, or close that tool."
            ) from None
        raise
    try:
        con.execute("set enable_progress_bar = false")  # it would print into a run's output on long scans
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)
    if con.execute("select not \"null\"::boolean from (describe raw.vardcentraler) "
                   "where column_name = 'rural_tier'").fetchall()[0][0]:
        con.execute("alter table raw.vardcentraler alter column rural_tier drop not null")
    _write_shipped_reference(con)


def shipped_reference_tables() -> dict[str, pd.DataFrame]:
    """raw.vocabulary, raw.indicator_catalogue and raw.reporting_age_bands as frames."""
    components = [{"vocabulary": name, "value": value, "sort_order": order}
                  for name, values in (("reimbursement_component", COMPONENTS),
                                       ("person_component", PERSON_COMPONENTS),
                                       ("deduction_component", DEDUCTION_COMPONENTS))
                  for order, value in enumerate(values, start=1)]
    return {
        "vocabulary": pd.DataFrame(vocabulary.vocabulary_rows() + components),
        "indicator_catalogue": indicator_catalogue.catalogue(),
        "reporting_age_bands": pd.DataFrame(vocabulary.reporting_age_band_rows()).astype({"age_to": "Int32"}),
    }


def _write_shipped_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite the shipped tables when their content differs from the code's (cheap: a few
    dozen rows compared; nothing is written on the usual call)."""
    for table, frame in shipped_reference_tables().items():
        columns = ", ".join(frame.columns)
        con.register("shipped_rows", frame)
        try:
            differs = con.execute(
                f"select (select count(*) from (select {columns} from raw.{table} except all "
                f"select {columns} from shipped_rows)) + (select count(*) from (select {columns} "
                f"from shipped_rows except all select {columns} from raw.{table}))").fetchall()[0][0]
            if differs:
                con.execute("begin")
                con.execute(f"delete from raw.{table}")
                con.execute(f"insert into raw.{table} by name select * from shipped_rows")
                con.execute("commit")
        finally:
            con.unregister("shipped_rows")
    con.execute(RAW_COLUMN_CHANGES)


def write_run_window(con: duckdb.DuckDBPyConnection, window: dict) -> None:
    ensure_schema(con)
    con.execute("begin")
    con.execute("delete from raw.run_window")
    con.execute("insert into raw.run_window values (?, ?, ?)",
                [window["month_from"], window["month_to"], window["min_cell"]])
    con.execute("commit")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0][0])


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, table],
    ).fetchall()
    return [r[0] for r in rows]
