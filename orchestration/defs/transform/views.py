"""dbt's views are definitions, not monthly data: they are built when their code changes.

The staging and intermediate views read the run's months from raw.run_window at query time
(macros/month_window.sql), so the view a month needs is the view the previous month left,
as long as the project's code and the raw tables' shape are the same. Rebuilding 38 views
and recording 38 Dagster materializations each month cost a region month about 3 s of its
30 s for no change in any row. The warehouse keeps the fingerprint of the code its views
were built from (raw.dbt_views); the monthly dbt build includes them when it differs
or a view is missing (docs/decisions.md, "dbt views built per code version").
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import duckdb

from core.warehouse import ensure_schema

VIEW_SELECTION = "config.materialized:view"


def is_view(node: Mapping[str, Any]) -> bool:
    return node.get("resource_type") == "model" and node["config"].get("materialized") == "view"


def _model_relations(manifest: Mapping[str, Any], materializations: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(node["schema"], node["alias"]) for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["config"].get("materialized") in materializations}


def view_relations(manifest: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(schema, name) of every model the project materialises as a view."""
    return _model_relations(manifest, ("view",))


def views_fingerprint(manifest: Mapping[str, Any], con: duckdb.DuckDBPyConnection) -> str:
    """What the views' definitions depend on: every model's and project macro's code (a view
    may select from a table model or call a macro), dbt's version, the columns of the raw
    tables they read, and the views' SQL as the warehouse holds it, so that a view replaced
    outside a month's run (a standalone `dbt build --vars month_from=...` compiles the months
    into it) is rebuilt. Any change rebuilds all views once, which costs a few seconds."""
    project = manifest["metadata"]["project_name"]
    models = sorted((uid, node["checksum"]["checksum"], node["schema"], node["alias"],
                     node["config"].get("materialized"))
                    for uid, node in manifest["nodes"].items() if node["resource_type"] == "model")
    macros = sorted((uid, hashlib.sha256(macro["macro_sql"].encode()).hexdigest())
                    for uid, macro in manifest["macros"].items() if macro["package_name"] == project)
    raw_columns = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name <> 'dbt_views' order by all").fetchall()
    wanted = view_relations(manifest)
    view_sql = [row for row in con.execute(
        "select schema_name, view_name, sql from duckdb_views() where not internal order by all").fetchall()
        if (row[0], row[1]) in wanted]
    payload = {"dbt": manifest["metadata"].get("dbt_version"), "models": models, "macros": macros,
               "raw": raw_columns, "views": view_sql}
    return hashlib.sha256(json.dumps(payload, default=str).encode()).hexdigest()


def views_current(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> bool:
    """True when every view exists and was built from this code (a missing or replaced view
    changes the views' SQL in the fingerprint)."""
    ensure_schema(con)
    built = con.execute("select fingerprint from raw.dbt_views").fetchall()
    return [row[0] for row in built] == [views_fingerprint(manifest, con)]


def missing_tables(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (schema, name) of the project's table models the warehouse does not hold yet."""
    present = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
    return sorted(_model_relations(manifest, ("table", "incremental")) - present)


def record_views_built(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> None:
    ensure_schema(con)
    fingerprint = views_fingerprint(manifest, con)
    con.execute("begin")
    con.execute("delete from raw.dbt_views")
    con.execute("insert into raw.dbt_views values (?, now())", [fingerprint])
    con.execute("commit")
