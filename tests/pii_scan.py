"""Finding personnummer in anything the pipeline writes (SPEC §4).

A *hit* is a personnummer-shaped value (`YYYYMMDDNNNC` or `YYYYMMDD-NNNC`, a century 19/20,
a plausible month and day or a samordningsnummer day + 60) whose Luhn check digit is right.
Masked values (`19850312-****`), pseudonyms (64 hex digits) and ids such as
`K20250100000001` do not match. `scan_outputs(data_dir, ...)` walks every kind of output and
returns `{where: [masked hits]}`; the hits are masked so a failing test never prints one.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np

from sources.personnummer import luhn_check_digit

# Not inside a longer run of letters and digits (ids like K20250100000001, 64-hex pseudonyms)
# nor followed by '-' (a uuid's first two groups).
_SHAPE = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01]|[6-8]\d|9[01]))-?(\d{4})"
                    r"(?![0-9A-Za-z-])")


def personnummer_hits(text: str) -> list[str]:
    """Masked forms of the valid personnummer/samordningsnummer in text."""
    hits = []
    for head, tail in _SHAPE.findall(text):
        nine = np.array([[int(c) for c in (head + tail)[2:11]]])
        if int(luhn_check_digit(nine)[0]) == int(tail[-1]):
            hits.append(f"{head}-****")
    return hits


def _texts_of_duckdb(path: Path):
    import duckdb
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            columns = [c for (c, t) in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?", [schema, table]).fetchall()
                if t == "VARCHAR" or t.startswith(("STRUCT", "MAP", "JSON")) or t.endswith("[]")]
            for column in columns:
                values = con.execute(
                    f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
                    f"where regexp_matches(cast(\"{column}\" as varchar), '\\d{{8}}-?\\d{{4}}')").fetchall()
                yield f"{path.name}:{schema}.{table}.{column}", "\n".join(v for (v,) in values)


def _texts_of_parquet(path: Path):
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    yield str(path), table.to_pandas().astype(str).to_csv(index=False)
    yield f"{path}:metadata", repr(pq.read_metadata(path).metadata)


def _texts_of_xlsx(path: Path):
    import openpyxl
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        for sheet in book.worksheets:
            cells = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
            yield f"{path}:{sheet.title}", "\n".join(cells)
    finally:
        book.close()
    # headers, footers, properties and shared strings too: the raw XML of the package
    import zipfile
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.endswith(".xml") or name.endswith(".rels"):
                yield f"{path}!{name}", package.read(name).decode("utf-8", "replace")


def _texts_of_sqlite(path: Path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (table,) in con.execute("select name from sqlite_master where type = 'table'").fetchall():
            for row in con.execute(f'select * from "{table}"'):
                yield f"{path.name}:{table}", " ".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
    finally:
        con.close()


def texts_of(path: Path):
    """(where, text) pairs for one file, by its kind; binary files by their printable bytes."""
    suffix = path.suffix.lower()
    if suffix == ".duckdb":
        yield from _texts_of_duckdb(path)
    elif suffix == ".parquet":
        yield from _texts_of_parquet(path)
    elif suffix == ".xlsx":
        yield from _texts_of_xlsx(path)
    elif suffix in (".db", ".sqlite", ".sqlite3"):
        yield from _texts_of_sqlite(path)
    else:
        yield str(path), path.read_bytes().decode("utf-8", "replace")


SKIP_SUFFIXES = (".wal", ".lock", ".tmp", ".db-wal", ".db-shm")


def scan_files(paths) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        if not path.is_file() or path.name.endswith(SKIP_SUFFIXES) or path.name == ".pseudonym_key":
            continue
        for where, text in texts_of(path):
            hits = personnummer_hits(text)
            if hits:
                found.setdefault(where, []).extend(sorted(set(hits))[:5])
    return found


def scan_event_log(dagster_home: Path) -> dict[str, list[str]]:
    """Every event record of every run in the Dagster instance (messages, metadata, errors)."""
    from dagster._serdes import serialize_value

    found: dict[str, list[str]] = {}
    instance = _instance(dagster_home)
    try:
        runs = instance.get_runs()
        assert runs, f"no Dagster runs in {dagster_home}"
        for run in runs:
            texts = [serialize_value(run)]
            cursor = None
            while True:
                connection = instance.get_records_for_run(run.run_id, cursor=cursor, limit=1000)
                texts += [serialize_value(record.event_log_entry) for record in connection.records]
                cursor = connection.cursor
                if not connection.has_more:
                    break
            hits = personnummer_hits("\n".join(texts))
            if hits:
                found[f"dagster run {run.run_id}"] = sorted(set(hits))[:5]
    finally:
        instance.dispose()
    return found


def _instance(dagster_home: Path):
    import os

    import dagster as dg
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        return dg.DagsterInstance.get()
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def scan_outputs(data_dir: Path, dagster_home: Path, extra_texts: dict[str, str] | None = None
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """Hits in everything a run writes: warehouse, published files, statements, reports, logs,
    check records, the Dagster home (its sqlite files and its event log read through Dagster)
    and `extra_texts` (e.g. the command's output). Returns (hits, kinds of file scanned)."""
    files = [p for p in sorted(Path(data_dir).rglob("*")) if p.is_file() and "dagster_home" not in p.parts]
    files += [p for p in sorted(Path(dagster_home).rglob("*")) if p.is_file()]
    found = scan_files(files)
    found.update(scan_event_log(dagster_home))
    for where, text in (extra_texts or {}).items():
        hits = personnummer_hits(text)
        if hits:
            found[where] = sorted(set(hits))[:5]
    kinds = sorted({p.suffix.lower() or p.name for p in files})
    return found, kinds
