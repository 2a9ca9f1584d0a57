"""Versioned publication of a month (SPEC §7, §10).

Layout under `<data_dir>/published/`:

    versions/<YYYY-MM>/v<NNNN>/<table>.parquet     immutable, one per published table
    versions/<YYYY-MM>/v<NNNN>/manifest.json       version, inputs, row counts, checks, hashes
    versions/<YYYY-MM>/v<NNNN>/diff_from_v<N-1>.md from the second version on
    <table>/month=<YYYY-MM>/data.parquet           current version for BI (monthly tables)
    vardcentraler/data.parquet                     the registry: every unit of any published month
    open_data/indicators_monthly_<YYYY-MM>.csv     suppressed cells nulled
    published.duckdb                               latest version of every month (+ published_versions);
                                                   the person rows as a view over the versions' Parquet
    catalog.json                                   months and their latest versions — the commit point

Order of a publication: hash the month's content in the warehouse → gate on that fingerprint
→ unchanged content ends here (nothing written) → export into a temp dir beside the versions,
from the same read-only connection (so what was hashed is what is written) → renamed to
the new version → current Parquet replaced (os.replace) → open data → published.duckdb built
in a temp file and os.replace'd → catalog.json (atomic). The catalog is the commit: a version
dir the catalog does not list comes from a crashed publication and is removed (and the
current files repaired) by the next publication. A publication that fails after the rename
rolls back to the catalog's state. Publications are serialised by a lock file.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from orchestration.defs.publication.gate import PublicationRefused, assert_may_publish, write_json_atomic
from orchestration.defs.publication.tables import (
    NON_MONTHLY, PARQUET_OPTIONS, PUBLISHED_TABLES, check_month, combine_hashes, export_month_table,
    month_digest, table_exists,
)
from orchestration.warehouse import connect
from validations.expectations.suites import REIMBURSEMENT_COMPONENTS

MONTHLY_TABLES = [t for t in PUBLISHED_TABLES if t not in NON_MONTHLY]
# In published.duckdb these are views over the latest versions' Parquet, not copies: a national
# month holds 10.6 M person rows, and copying them in (and the file that held every month's)
# made each publication grow with history. The version files are immutable, so a view of one
# catalog never changes under a reader.
PARQUET_VIEW_TABLES = frozenset({"reimbursement_person_monthly"})
STORED_TABLES = [t for t in MONTHLY_TABLES if t not in PARQUET_VIEW_TABLES]
DIFF_ROW_LIMIT = 200
AMOUNT_TOLERANCE = 0.005


@dataclass
class PublishResult:
    month: str
    version: int
    is_new_version: bool
    diff_markdown: str | None
    files: list[Path] = field(default_factory=list)


def version_dir(published: Path, month: str, version: int) -> Path:
    return published / "versions" / month / f"v{version:04d}"


def read_catalog(published: Path) -> dict:
    path = published / "catalog.json"
    if not path.exists():
        return {"months": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _lock(published: Path):
    published.mkdir(parents=True, exist_ok=True)
    with open(published / ".publish.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _outcome_dict(o) -> dict:
    return o.to_dict() if hasattr(o, "to_dict") else dict(o)


def _replace_with_link(src: Path, dst: Path) -> None:
    """dst becomes src's file, swapped in whole. A hard link where the file system allows one:
    version files are never written again, and a national person table is ~400 MB to copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _current_path(published: Path, table: str, month: str) -> Path:
    return published / table / f"month={month}" / "data.parquet"


def _open_data_path(published: Path, month: str) -> Path:
    return published / "open_data" / f"indicators_monthly_{month}.csv"


def _latest_dirs(published: Path, catalog: dict) -> dict[str, Path]:
    return {m: version_dir(published, m, int(e["latest_version"])) for m, e in sorted(catalog["months"].items())}


# ----------------------------------------------------------------------------------------- outputs

def _write_registry(published: Path, catalog: dict) -> Path:
    """vardcentraler/data.parquet: every unit of any published month, the row of its latest month."""
    dirs = _latest_dirs(published, catalog)
    dst = published / "vardcentraler" / "data.parquet"
    if not dirs:
        dst.unlink(missing_ok=True)
        return dst
    files = [str(d / "vardcentraler.parquet") for d in dirs.values()]
    months = {str(d / "vardcentraler.parquet"): m for m, d in dirs.items()}
    con = duckdb.connect()
    try:
        con.register("file_months", pd.DataFrame(
            {"filename": list(months), "file_month": list(months.values())}))
        table = con.sql(f"""
            select * exclude (filename, file_month) from (
                select r.*, f.file_month from read_parquet({files!r}, union_by_name = true, filename = true) r
                join file_months f using (filename))
            qualify row_number() over (partition by hsa_id order by file_month desc) = 1
            order by hsa_id""").to_arrow_table()
    finally:
        con.close()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".data.parquet.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, str(tmp), **PARQUET_OPTIONS)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _write_open_data(published: Path, month: str, source_dir: Path) -> Path:
    dst = _open_data_path(published, month)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    keys = ", ".join(PUBLISHED_TABLES["indicators_monthly"])
    con = duckdb.connect()
    try:
        con.execute(f"""
            copy (select * replace (
                      case when is_suppressed then null else numerator end as numerator,
                      case when is_suppressed then null else denominator end as denominator,
                      case when is_suppressed then null else value end as value)
                  from read_parquet('{source_dir / "indicators_monthly.parquet"}') order by {keys})
            to '{tmp}' (format csv, header true, delimiter ',')""")
        os.replace(tmp, dst)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return dst


def _versions_in_db(path: Path) -> list[tuple] | None:
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return sorted(con.execute("select month, version, content_hash, published_at "
                                      "from published_versions").fetchall())
    except duckdb.Error:
        return None


def _catalog_versions(catalog: dict) -> list[tuple]:
    return sorted((m, int(e["latest_version"]), e["content_hash"], e["published_at"])
                  for m, e in catalog["months"].items())


def _stored_as_tables(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {name for (name,) in con.execute("select table_name from information_schema.tables "
                                                "where table_type = 'BASE TABLE'").fetchall()}


def _view_files(published: Path, catalog: dict, table: str) -> list[str]:
    # Absolute: DuckDB resolves a relative path against the reader's working directory.
    return [str((d / f"{table}.parquet").resolve()) for d in _latest_dirs(published, catalog).values()]


def _create_parquet_views(con: duckdb.DuckDBPyConnection, published: Path, catalog: dict) -> None:
    """PARQUET_VIEW_TABLES as views over the catalog's latest version files, month by month."""
    for table in sorted(PARQUET_VIEW_TABLES):
        files = _view_files(published, catalog, table)
        if files:
            con.execute(f'create or replace view "{table}" as select * from read_parquet({files!r}, '
                        f'union_by_name = true)')
        else:
            con.execute(f'drop view if exists "{table}"')


def _published_db_stale(published: Path, catalog: dict) -> bool:
    """Whether published.duckdb is missing, holds other versions than the catalog's, or has
    views that name files elsewhere (the data directory was moved since it was built)."""
    path = published / "published.duckdb"
    if _versions_in_db(path) != _catalog_versions(catalog):
        return True
    with duckdb.connect(str(path), read_only=True) as con:
        views = dict(con.execute("select view_name, sql from duckdb_views() where not internal").fetchall())
    for table in PARQUET_VIEW_TABLES:
        files = _view_files(published, catalog, table)
        if files and not all(f"'{f}'" in views.get(table, "") for f in files):
            return True
    return False


def _changed_months(catalog: dict, previous: dict) -> set[str]:
    return {m for m in set(catalog["months"]) | set(previous["months"])
            if catalog["months"].get(m) != previous["months"].get(m)}


def _patch_published_db(published: Path, catalog: dict, previous: dict) -> Path | None:
    """Copy-and-patch: the current published.duckdb, copied aside, with only the changed months replaced.

    The cost of a publication then no longer grows with the number of months published (a full
    rebuild reads every month's Parquet). Used only when the current file holds exactly the
    previous catalog, the new catalog changes or adds at most a quarter of its months (beyond
    that a rebuild is as quick: twelve of twelve months patched took 7.3 s, rebuilt 3.9 s), and
    the new Parquet has the tables' exact columns; otherwise (or on any error) None, and the
    caller rebuilds. Rows of a re-published earlier month are appended after the others: read
    with ORDER BY.
    """
    dst = published / "published.duckdb"
    changed = _changed_months(catalog, previous)
    if not changed or not changed <= set(catalog["months"]) or not dst.exists():
        return None
    if len(changed) > 1 and 4 * len(changed) > len(catalog["months"]):
        return None
    if _versions_in_db(dst) != _catalog_versions(previous):
        return None
    if _stored_as_tables(dst) & PARQUET_VIEW_TABLES:
        return None  # written before those tables became views: rebuild (which is small)
    tmp = published / f".published.{uuid.uuid4().hex}.duckdb"
    try:
        shutil.copyfile(dst, tmp)
        con = duckdb.connect(str(tmp))
        try:
            con.execute("begin")
            for month in sorted(changed):
                source = version_dir(published, month, int(catalog["months"][month]["latest_version"]))
                for table in STORED_TABLES:
                    file = source / f"{table}.parquet"
                    have = con.execute(f'select column_name, column_type from (describe "{table}")').fetchall() \
                        if table_exists(con, "main", table) else None
                    new = con.execute(f"select column_name, column_type from (describe select * from "
                                      f"read_parquet('{file}'))").fetchall()
                    if have is None or [tuple(r) for r in have] != [tuple(r) for r in new]:
                        return None  # a new table or changed columns: rebuild
                    keys = ", ".join(f'"{k}"' for k in PUBLISHED_TABLES[table])
                    con.execute(f'delete from "{table}" where month = ?', [month])
                    con.execute(f'insert into "{table}" select * from read_parquet(\'{file}\') order by {keys}')
            registry = published / "vardcentraler" / "data.parquet"
            con.execute("drop table if exists vardcentraler")
            if registry.exists():
                con.execute(f"create table vardcentraler as select * from read_parquet('{registry}') order by hsa_id")
            _create_parquet_views(con, published, catalog)
            con.execute("delete from published_versions")
            con.executemany("insert into published_versions values (?, ?, ?, ?)",
                            [list(row) for row in _catalog_versions(catalog)])
            con.execute("commit")
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, dst)
        return dst
    except duckdb.Error:
        return None
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def _build_published_db(published: Path, catalog: dict, previous: dict | None = None) -> Path:
    """published.duckdb from the latest version of every month, built aside and swapped in.

    With `previous` (the catalog the current file was built for), patch a copy of the current
    file instead when it is safe (see `_patch_published_db`)."""
    dst = published / "published.duckdb"
    if previous is not None:
        patched = _patch_published_db(published, catalog, previous)
        if patched is not None:
            return patched
    tmp = published / f".published.{uuid.uuid4().hex}.duckdb"
    dirs = _latest_dirs(published, catalog)
    try:
        con = duckdb.connect(str(tmp))
        try:
            for table in STORED_TABLES:
                keys = ", ".join(f'"{k}"' for k in PUBLISHED_TABLES[table])
                files = [str(d / f"{table}.parquet") for d in dirs.values()]
                if files:
                    con.execute(f'create table "{table}" as select * from read_parquet({files!r}, '
                                f'union_by_name = true) order by {keys}')
            _create_parquet_views(con, published, catalog)
            registry = published / "vardcentraler" / "data.parquet"
            if registry.exists():
                con.execute(f"create table vardcentraler as select * from read_parquet('{registry}') order by hsa_id")
            con.execute("create table published_versions (month varchar, version integer, content_hash varchar, "
                        "published_at varchar)")
            for month, entry in sorted(catalog["months"].items()):
                con.execute("insert into published_versions values (?, ?, ?, ?)",
                            [month, int(entry["latest_version"]), entry["content_hash"], entry["published_at"]])
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return dst


def _refresh_month(published: Path, month: str, catalog: dict) -> list[Path]:
    """Make the month's current Parquet and open data match the catalog's latest version (or remove them)."""
    entry = catalog["months"].get(month)
    written = []
    if entry is None:
        for table in MONTHLY_TABLES:
            shutil.rmtree(_current_path(published, table, month).parent, ignore_errors=True)
        _open_data_path(published, month).unlink(missing_ok=True)
        return written
    source = version_dir(published, month, int(entry["latest_version"]))
    for table in MONTHLY_TABLES:
        dst = _current_path(published, table, month)
        _replace_with_link(source / f"{table}.parquet", dst)
        written.append(dst)
    written.append(_write_open_data(published, month, source))
    return written


def _recover(published: Path, catalog: dict) -> set[str]:
    """Remove version dirs the catalog does not list (crashed publications); return months to repair."""
    repair = set()
    # Files a killed publication was writing aside ('.<name>.<random>.tmp', '.published.<uuid>.duckdb'):
    # stale, since publications hold the lock. They never became visible, but must not pile up.
    for stale in [*published.glob(".published.*.duckdb"), *published.glob(".published.*.duckdb.wal"),
                  *published.rglob(".*.tmp")]:
        if stale.is_file():
            stale.unlink(missing_ok=True)
    versions_root = published / "versions"
    if not versions_root.exists():
        return repair
    for month_dir in versions_root.iterdir():
        if not month_dir.is_dir():
            continue
        latest = int(catalog["months"].get(month_dir.name, {}).get("latest_version", 0))
        for child in month_dir.iterdir():
            if child.name.startswith(".tmp-"):
                shutil.rmtree(child, ignore_errors=True)
            elif child.is_dir() and child.name.startswith("v") and child.name[1:].isdigit() \
                    and int(child.name[1:]) > latest:
                shutil.rmtree(child, ignore_errors=True)
                repair.add(month_dir.name)
    return repair


# -------------------------------------------------------------------------------------------- diff

def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.2f}".replace(",", " ")
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def _delta(old, new) -> str:
    if old is None or new is None:
        return "—"
    change = new - old
    text = _fmt(float(change))
    text = f"+{text}" if change > 0 else text
    if old:
        text += f" ({change / abs(old):+.2%})"
    return text


def build_diff(old_dir: Path, new_dir: Path, month: str, old_version: int, new_version: int,
               names: dict[str, str] | None = None) -> str:
    """A readable markdown diff between two versions of a month."""
    names = names or {}
    con = duckdb.connect()
    lines = [f"# {month}: ändringar v{old_version} → v{new_version}", ""]
    try:
        def rel(directory: Path, table: str) -> str:
            return f"read_parquet('{directory / f'{table}.parquet'}')"

        lines += ["## Rader per tabell", "", "| tabell | rader v%d | rader v%d | ändrade rader |" % (old_version, new_version),
                  "|---|---:|---:|---:|"]
        for table in PUBLISHED_TABLES:
            old_rows = con.execute(f"select count(*) from {rel(old_dir, table)}").fetchall()[0][0]
            new_rows = con.execute(f"select count(*) from {rel(new_dir, table)}").fetchall()[0][0]
            try:
                changed = con.execute(f"select count(*) from (select * from {rel(new_dir, table)} except all "
                                      f"select * from {rel(old_dir, table)})").fetchall()[0][0]
            except duckdb.Error:
                changed = "schema changed"
            lines.append(f"| {table} | {old_rows} | {new_rows} | {changed} |")
        lines.append("")

        # reimbursement per VC and figure
        figures = ["listed_count", *REIMBURSEMENT_COMPONENTS, "total"]
        o = con.sql(f"select * from {rel(old_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        n = con.sql(f"select * from {rel(new_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        changes = []
        for vc in sorted(set(o.index) | set(n.index)):
            if vc not in o.index:
                changes.append((vc, "(ny vårdcentral)", None, float(n.at[vc, "total"])))
                continue
            if vc not in n.index:
                changes.append((vc, "(vårdcentral borttagen)", float(o.at[vc, "total"]), None))
                continue
            for f in figures:
                if f not in o.columns or f not in n.columns:
                    continue
                a, b = o.at[vc, f], n.at[vc, f]
                a = None if a is None or a != a else float(a)
                b = None if b is None or b != b else float(b)
                if (a is None) != (b is None) or (a is not None and abs(a - b) >= AMOUNT_TOLERANCE):
                    changes.append((vc, f, a, b))
        lines += ["## Ersättning per vårdcentral (reimbursement_monthly)", ""]
        if changes:
            lines += ["| vårdcentral | namn | belopp | gammalt | nytt | förändring |", "|---|---|---|---:|---:|---:|"]
            for vc, f, a, b in changes:
                lines.append(f"| {vc} | {names.get(vc, '')} | {f} | {_fmt(a)} | {_fmt(b)} | {_delta(a, b)} |")
        else:
            lines.append("Inga ändringar.")
        lines.append("")

        # indicators per VC
        keys = ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]
        join = " and ".join(f"o.{k} is not distinct from n.{k}" for k in keys)
        ind = con.sql(f"""
            select coalesce(n.vardcentral_hsa_id, o.vardcentral_hsa_id) as vc,
                   coalesce(n.indicator_code, o.indicator_code) as code, coalesce(n.sex, o.sex) as sex,
                   coalesce(n.profession, o.profession) as profession,
                   o.numerator as old_num, n.numerator as new_num, o.denominator as old_den,
                   n.denominator as new_den, o.value as old_value, n.value as new_value,
                   o.month is null as added, n.month is null as removed
            from {rel(old_dir, 'indicators_monthly')} o full outer join {rel(new_dir, 'indicators_monthly')} n
              on {join}
            where o.month is null or n.month is null
               or o.numerator is distinct from n.numerator or o.denominator is distinct from n.denominator
               or (o.value is distinct from n.value and coalesce(abs(o.value - n.value), 1) > 1e-12)
            order by vc, code, sex, profession""").fetchall()
        lines += ["## Indikatorer per vårdcentral (indicators_monthly)", ""]
        if ind:
            lines += ["| vårdcentral | indikator | kön | yrke | gammalt värde (täljare/nämnare) | nytt värde "
                      "(täljare/nämnare) | förändring |", "|---|---|---|---|---:|---:|---:|"]
            for row in ind[:DIFF_ROW_LIMIT]:
                vc, code, sex, prof, on, nn, od, nd, ov, nv, added, removed = row
                old = "—" if added else f"{_fmt(ov)} ({_fmt(on)}/{_fmt(od)})"
                new = "—" if removed else f"{_fmt(nv)} ({_fmt(nn)}/{_fmt(nd)})"
                lines.append(f"| {vc} | {code} | {sex} | {prof} | {old} | {new} | {_delta(ov, nv)} |")
            if len(ind) > DIFF_ROW_LIMIT:
                lines.append(f"\n… och {len(ind) - DIFF_ROW_LIMIT} ändrade indikatorrader till.")
        else:
            lines.append("Inga ändringar.")
        lines.append("")
    finally:
        con.close()
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- publication

def _refuse_on_failed_checks(month: str, check_outcomes: list) -> None:
    failing = [d for d in map(_outcome_dict, check_outcomes) if d.get("blocking") and not d.get("passed")]
    if failing:
        reasons = "; ".join(f"{d['name']}: {d['description']}" for d in failing[:5])
        raise PublicationRefused(f"{month} was not published: {len(failing)} blocking check(s) failed — "
                                 f"{reasons}. The previously published version is kept.")


def publish_month(warehouse_path: Path, data_dir: Path, month: str, *, input_checksums: dict,
                  check_outcomes: list, code_version: str, refresh_shared: bool = True) -> PublishResult:
    """Publish the month's marts as a new version if the content changed and the checks passed.

    Raises PublicationRefused (nothing written, previous version intact) when a blocking check
    failed or there is no passing check record for exactly this content.

    `refresh_shared=False` leaves published.duckdb and the registry Parquet, which hold every
    month, to one `refresh_shared_outputs` after a range (see there).
    """
    check_month(month)
    _refuse_on_failed_checks(month, check_outcomes)
    published = Path(data_dir) / "published"
    month_root = published / "versions" / month
    with _lock(published):
        catalog = read_catalog(published)
        repair = _recover(published, catalog)
        month_root.mkdir(parents=True, exist_ok=True)
        staging = month_root / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            exported = {}
            with connect(Path(warehouse_path), read_only=True) as con:
                # Hash first (cheap, in DuckDB): unchanged or unchecked content writes nothing.
                digests = {}
                for table in PUBLISHED_TABLES:
                    if not table_exists(con, "marts", table):
                        raise PublicationRefused(f"{month} was not published: marts.{table} is missing from "
                                                 "the warehouse.")
                    digests[table] = month_digest(con, table, month)
                fingerprint = combine_hashes({t: h for t, (_, h) in digests.items()})
                check_record = assert_may_publish(data_dir, month, fingerprint)
                latest = catalog["months"].get(month)
                unchanged = latest is not None and latest["content_hash"] == fingerprint
                if not unchanged:
                    for table, digest in digests.items():
                        exported[table] = export_month_table(con, table, month, staging / f"{table}.parquet",
                                                             digest=digest)
                    names = dict(con.execute("select hsa_id, name from marts.vardcentraler").fetchall())

            if unchanged:
                shutil.rmtree(staging, ignore_errors=True)
                if repair:
                    for m in repair:
                        _refresh_month(published, m, catalog)
                    _write_registry(published, catalog)
                    _build_published_db(published, catalog)
                elif refresh_shared and _published_db_stale(published, catalog):
                    _build_published_db(published, catalog)
                existing = version_dir(published, month, int(latest["latest_version"]))
                return PublishResult(month, int(latest["latest_version"]), False, None,
                                     sorted(p for p in existing.iterdir() if p.is_file()))

            previous = int(latest["latest_version"]) if latest else 0
            version = previous + 1
            published_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            diff = None
            files_in_version = []
            if previous:
                diff = build_diff(version_dir(published, month, previous), staging, month, previous, version, names)
                (staging / f"diff_from_v{previous:04d}.md").write_text(diff + "\n", encoding="utf-8")
            outcomes = [_outcome_dict(o) for o in check_outcomes] or check_record.get("outcomes", [])
            manifest = {
                "month": month,
                "version": version,
                "previous_version": previous or None,
                "published_at": published_at,
                "code_version": code_version,
                "content_hash": fingerprint,
                "input_checksums": dict(sorted((input_checksums or {}).items())),
                "tables": {t: {"rows": e.rows, "content_hash": e.content_hash, "file": f"{t}.parquet",
                               "file_sha256": _sha256_file(e.path)} for t, e in exported.items()},
                "checks": {
                    "checked_at": check_record.get("recorded_at"),
                    "passed": True,
                    "count": len(outcomes),
                    "warnings": [o["name"] for o in outcomes if not o.get("passed") and not o.get("blocking")],
                    "outcomes": outcomes,
                },
            }
            write_json_atomic(staging / "manifest.json", manifest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

        target = version_dir(published, month, version)
        os.rename(staging, target)
        new_catalog = json.loads(json.dumps(catalog))
        new_catalog["months"][month] = {"latest_version": version, "content_hash": fingerprint,
                                        "published_at": published_at,
                                        "path": str(target.relative_to(published))}
        new_catalog["months"] = dict(sorted(new_catalog["months"].items()))
        try:
            files = sorted(p for p in target.iterdir() if p.is_file())
            for m in sorted(repair | {month}):
                files += _refresh_month(published, m, new_catalog) if m == month else \
                    (_refresh_month(published, m, catalog) and [])
            if refresh_shared:
                files.append(_write_registry(published, new_catalog))
                files.append(_build_published_db(published, new_catalog, previous=None if repair else catalog))
            new_catalog["updated_at"] = published_at
            new_catalog["tables"] = list(PUBLISHED_TABLES)
            write_json_atomic(published / "catalog.json", new_catalog)
            files.append(published / "catalog.json")
        except BaseException:
            # roll back to the catalog's state: the new version never becomes visible
            shutil.rmtree(target, ignore_errors=True)
            with contextlib.suppress(Exception):
                _refresh_month(published, month, catalog)
                _write_registry(published, catalog)
                _build_published_db(published, catalog)
            raise
        return PublishResult(month, version, True, diff, files)


def refresh_shared_outputs(data_dir: Path, since: dict) -> list[Path]:
    """Bring published.duckdb and the registry up to the catalog after months published with
    `refresh_shared=False`; `since` is the catalog read before the first of them.

    A range then builds the file that holds every month once, not once per month (a 12-month
    backfill patched it twelve times, 1.5 s each). Until this runs, published.duckdb holds the
    versions of `since`, each month whole and listed in its `published_versions`; the catalog
    is still the commit point, and a crash in between is repaired by the next publication,
    which finds the file behind the catalog and rebuilds it.
    """
    published = Path(data_dir) / "published"
    with _lock(published):
        catalog = read_catalog(published)
        if not catalog["months"] or (not _changed_months(catalog, since)
                                     and not _published_db_stale(published, catalog)):
            return []
        return [_write_registry(published, catalog), _build_published_db(published, catalog, previous=since)]
