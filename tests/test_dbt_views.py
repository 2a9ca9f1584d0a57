"""dbt's views are built per code version, not per month (orchestration/defs/transform/views.py)."""
from __future__ import annotations

import copy

import duckdb

from orchestration.defs.transform.views import record_views_built, view_relations, views_current, views_fingerprint
from tests.pipeline_fixture import run_ok

MANIFEST = {
    "metadata": {"project_name": "vardval", "dbt_version": "1.11.16"},
    "nodes": {
        "model.vardval.stg_a": {"resource_type": "model", "schema": "staging", "alias": "stg_a",
                                "checksum": {"checksum": "1"}, "config": {"materialized": "view"}},
        "model.vardval.mart_b": {"resource_type": "model", "schema": "marts", "alias": "mart_b",
                                 "checksum": {"checksum": "2"}, "config": {"materialized": "incremental"}},
        "test.vardval.not_null_b": {"resource_type": "test", "schema": "marts", "alias": "nn",
                                    "checksum": {"checksum": "3"}, "config": {"materialized": "test"}},
    },
    "macros": {"macro.vardval.month_from": {"package_name": "vardval", "macro_sql": "select 1"},
               "macro.dbt.other": {"package_name": "dbt", "macro_sql": "x"}},
}


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw; create table raw.listing (month varchar)")
    con.execute("create schema staging; create view staging.stg_a as select * from raw.listing")
    return con


def test_views_are_current_only_after_being_built_from_this_code():
    con = _warehouse()
    assert view_relations(MANIFEST) == {("staging", "stg_a")}
    assert not views_current(con, MANIFEST), "never recorded"
    record_views_built(con, MANIFEST)
    assert views_current(con, MANIFEST)

    changed_model = copy.deepcopy(MANIFEST)
    changed_model["nodes"]["model.vardval.mart_b"]["checksum"]["checksum"] = "2b"
    assert not views_current(con, changed_model), "a model's code changed"
    changed_macro = copy.deepcopy(MANIFEST)
    changed_macro["macros"]["macro.vardval.month_from"]["macro_sql"] = "select 2"
    assert not views_current(con, changed_macro), "a project macro changed"
    other_package = copy.deepcopy(MANIFEST)
    other_package["macros"]["macro.dbt.other"]["macro_sql"] = "y"
    assert views_current(con, other_package), "dbt's own macros are covered by its version"

    con.execute("alter table raw.listing add column person_key varchar")
    assert not views_current(con, MANIFEST), "a raw table changed shape"
    record_views_built(con, MANIFEST)
    assert views_current(con, MANIFEST)
    assert con.execute("select count(*) from raw.dbt_views").fetchone() == (1,)

    # A standalone `dbt build --vars month_from=...` compiles the months into the views' SQL.
    con.execute("create or replace view staging.stg_a as select * from raw.listing where month = '2025-01'")
    assert not views_current(con, MANIFEST), "a view's SQL was changed outside a month's run"
    record_views_built(con, MANIFEST)
    assert views_current(con, MANIFEST)

    con.execute("drop view staging.stg_a")
    assert not views_current(con, MANIFEST), "a view is missing"


def test_fingerprint_ignores_tests_and_is_stable():
    con = _warehouse()
    changed_test = copy.deepcopy(MANIFEST)
    changed_test["nodes"]["test.vardval.not_null_b"]["checksum"]["checksum"] = "3b"
    assert views_fingerprint(MANIFEST, con) == views_fingerprint(changed_test, con)


def test_a_month_rebuilds_views_only_when_they_are_stale(published_region, tmp_path):
    region = published_region.copy(tmp_path / "region")
    built_at = region.query("select built_at from raw.dbt_views")
    assert len(built_at) == 1, "the first run built the views and recorded it"
    first_run = _view_materialized_by(region)

    result = run_ok(region, "run", "--from", "2025-02", "--force")
    assert "rebuilding them" not in result.stdout
    assert region.query("select built_at from raw.dbt_views") == built_at
    assert _view_materialized_by(region) == first_run

    marts_before = region.query("select * from marts.indicators_monthly order by all")
    with duckdb.connect(str(region.warehouse)) as con:
        con.execute("drop view staging.stg_journal__contacts")
    result = run_ok(region, "run", "--from", "2025-02", "--force")
    assert "rebuilding them" in result.stdout
    assert region.query("select count(*) from duckdb_views() where view_name = 'stg_journal__contacts'") == [(1,)]
    assert region.query("select * from marts.indicators_monthly order by all") == marts_before
    assert _view_materialized_by(region) not in (None, first_run), "recorded on the view's asset"


def _view_materialized_by(region) -> str | None:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(region.root / "dagster_home")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["staging", "stg_journal__contacts"]))
        return event.run_id if event else None


def test_views_and_monthly_models_cover_every_dbt_model():
    from orchestration.defs.transform.assets import vardval_dbt_models, vardval_dbt_views

    views, monthly = set(vardval_dbt_views.keys), set(vardval_dbt_models.keys)
    assert not views & monthly
    assert len(views | monthly) == 57, "every model of the project is an asset of exactly one of the two"
    assert all(key.path[0] in ("staging", "intermediate") for key in views)
