"""What a month's figures were built from, and which months are out of date because of it (SPEC §9).

A month's marts read more than its own deliveries: windows reach back (SPEC §10.2) and the
reference files apply to it in part. After each dbt build, `record_built_from` writes per
built month `<data_dir>/built_from/<YYYY-MM>.json`:

* `sources`: the sha256 of every delivery the month's windows read, by source and month, null
  for a month not delivered (a month's presence changes `window_months` too):
    - listing:   M-12..M (relisting: 12 changes, the first from M-12 to M-11; ended listings M-1)
    - visits:    M-11..M (continuity 12 months, coverage 6), and further back to the month of
                 the earliest `first_contact_date` among M's contacts, at most
                 `ASSESSMENT_HISTORY_MONTHS` (first assessments rank a month's candidates against
                 earlier contacts of the same episode). This is a superset of the candidates'
                 episodes: approximate, never too small.
    - telephony: M only.
* `references`: per reference file, its sha256 and a digest of the part of it that applies to
  the month (`reference_digests`): the model version valid on the month's first day; the
  registry rows valid on its last day; the CNI and ACG rows of the year it uses; the grants
  paid out in it; the extra assignments valid on its first day.

A published month whose record no longer matches (a delivery of a month in its window was
corrected since, or a reference file changed the part that applies to it) is *stale*:
`stale_reasons` says why. `vardval run` extends its range to the later published months a
correction makes stale (`dependants_of_run`), the sensor plans its runs with the same records,
and `vardval status` shows what is left. The sensor reads these files, never the warehouse.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from core.months import month_bounds, month_range, shift_month
from orchestration.defs.sources.ingestion import REFERENCE_FILES, SOURCES, sha256_of

LISTING_REACH = 12
VISITS_REACH = 11
ASSESSMENT_HISTORY_MONTHS = 24      # dbt var assessment_history_months' default
RECORD_DIR = "built_from"


def _record_path(data_dir: Path, month: str) -> Path:
    return Path(data_dir) / RECORD_DIR / f"{month}.json"


def read_record(data_dir: Path, month: str) -> dict | None:
    path = _record_path(data_dir, month)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------ sources

def _reach(source: str, month: str, earliest_visit_month: str | None) -> list[str]:
    if source == "listing":
        return month_range(shift_month(month, -LISTING_REACH), month)
    if source == "visits":
        first = shift_month(month, -VISITS_REACH)
        if earliest_visit_month:
            first = min(first, max(earliest_visit_month, shift_month(month, -ASSESSMENT_HISTORY_MONTHS)))
        return month_range(first, month)
    return [month]


def source_inputs(con, months: list[str]) -> dict[str, dict[str, dict[str, str | None]]]:
    """{month: {source: {delivery month: sha256 or None}}} from the warehouse's raw tables."""
    delivered = {(m, s): sha for m, s, sha in con.execute("select month, source, sha256 from raw.source_files")
                 .fetchall()}
    earliest = dict(con.execute(
        "select month, strftime(min(first_contact_date), '%Y-%m') from raw.visits "
        f"where month in ({', '.join('?' for _ in months)}) group by month", months).fetchall()) if months else {}
    return {m: {s: {d: delivered.get((d, s)) for d in _reach(s, m, earliest.get(m))} for s in SOURCES}
            for m in months}


# --------------------------------------------------------------------------- references

def _rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows as text by lower-case column name (UTF-8 with or without BOM, or
    Windows-1252; comma or semicolon), for digests only: the loaders validate."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    header = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=";" if header.count(";") > header.count(",") else ",")
    rows = [r for r in reader if "".join(r).strip()]
    if not rows:
        return []
    names = [h.strip().lower() for h in rows[0]]
    return [{n: (r[i].strip() if i < len(r) else "") for i, n in enumerate(names)} for r in rows[1:]]


def _digest(items) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _valid_on(row: dict, day: str, start: str = "valid_from", end: str = "valid_to") -> bool:
    return (row.get(start) or "0000") <= day and (not row.get(end) or day <= row[end])


def _by_year(path: Path, months: list[str]) -> dict[str, str]:
    """Per month, a digest of the rows of the latest year present that is not after the month's
    year (SPEC §3.5). In DuckDB, as an order-free sum of row hashes per year: a national ACG file
    has 10.6 M rows; read in Python (and sorted) only when DuckDB cannot read the file."""
    try:
        import duckdb

        with duckdb.connect() as con:
            source = f"read_csv('{path}', all_varchar = true, header = true)"
            columns = [c for (c, *_) in con.execute(f"describe select * from {source}").fetchall()]
            year = next(c for c in columns if c.strip().lower() == "year")
            per_year = {y: f"{n}:{h}" for y, n, h in con.execute(
                f'select t."{year}", count(*), sum(hash(t))::varchar from {source} t group by 1').fetchall()}
    except Exception:  # noqa: BLE001 - any file DuckDB cannot read (encoding, no year column)
        rows = _rows(path) if path.exists() else []
        per_year = {}
        for y in {r.get("year", "") for r in rows}:
            per_year[y] = _digest(sorted(tuple(sorted(r.items())) for r in rows if r.get("year") == y))
    years = sorted(y for y in per_year if y is not None)
    out = {}
    for month in months:
        used = [y for y in years if y <= month[:4]]
        year = used[-1] if used else None
        out[month] = _digest([year, per_year.get(year)])
    return out


def _month_digests(name: str, path: Path, months: list[str]) -> dict[str, str]:
    """Per month, a digest of the part of the file that applies to it; a missing (optional)
    file digests as an empty one, so adding one changes only the months it has rows for."""
    if name == "reimbursement_model.yaml":
        import yaml

        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            versions = ((yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}).get("versions") or []
                        if path.exists() else [])
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError):
            return {m: "unreadable" for m in months}
        out = {}
        for month in months:
            first = str(month_bounds(month)[0])
            applies = [v for v in versions if isinstance(v, dict)
                       and _valid_on({k: str(v.get(k) or "") for k in ("valid_from", "valid_to")}, first)]
            out[month] = _digest(applies)
        return out
    if name in YEARLY_FILES:
        return _by_year(path, months) if path.exists() else {m: _digest([None, None]) for m in months}
    try:
        rows = _rows(path) if path.exists() else []
    except (OSError, csv.Error):
        return {m: "unreadable" for m in months}
    out = {}
    for month in months:
        first, last = (str(d) for d in month_bounds(month))
        if name == "vardcentraler.csv":
            chosen = [r for r in rows if _valid_on(r, last)]
        elif name == "development_grants.csv":
            chosen = [r for r in rows if r.get("payout_month") == month]
        else:   # extra_assignments.csv
            chosen = [r for r in rows if _valid_on(r, first)]
        out[month] = _digest(sorted(tuple(sorted(r.items())) for r in chosen))
    return out


YEARLY_FILES = ("cni_areas.csv", "acg_weights.csv")


def _digest_key(name: str, month: str) -> str:
    """What a month's digest of a file depends on besides the file: the month, or for the
    yearly files only its year."""
    return month[:4] if name in YEARLY_FILES else month


def reference_digests(reference_dir: Path, months: list[str], records=()) -> dict[str, dict]:
    """{month: {file: {"sha256": ..., "digest": ...}}} for the reference files in reference_dir
    (a missing optional file: sha256 None). Digests already in `records` (recorded months) for
    the same file content are reused: a file is parsed only when it changed, or for a month
    (a year, for CNI and ACG) no record has yet."""
    seen = {(name, entry.get("sha256"), _digest_key(name, record["month"])): entry["digest"]
            for record in records if record for name, entry in record.get("references", {}).items()
            if entry.get("digest") is not None}
    out: dict[str, dict] = {m: {} for m in months}
    for name in REFERENCE_FILES:
        path = Path(reference_dir) / name
        sha = sha256_of(path) if path.exists() else None
        missing = [m for m in months if (name, sha, _digest_key(name, m)) not in seen]
        digests = _month_digests(name, path, missing) if missing else {}
        for m in months:
            out[m][name] = {"sha256": sha, "digest": digests[m] if m in digests
                            else seen[(name, sha, _digest_key(name, m))]}
    return out


# ------------------------------------------------------------------------------ records

def record_built_from(con, data_dir: Path, reference_dir: Path, months: list[str]) -> None:
    """After a build of `months`: what each was built from (the module docstring)."""
    sources = source_inputs(con, months)
    loaded = dict(con.execute("select file_name, sha256 from raw.reference_files").fetchall())
    folder = Path(data_dir) / RECORD_DIR
    earlier = [read_record(data_dir, p.stem) for p in sorted(folder.glob("*.json"))] if folder.exists() else []
    references = reference_digests(reference_dir, months, earlier)
    folder.mkdir(parents=True, exist_ok=True)
    from orchestration.defs.publication.gate import write_json_atomic

    for month in months:
        refs = {name: (entry if entry["sha256"] == loaded.get(name) else {"sha256": loaded.get(name), "digest": None})
                for name, entry in references[month].items()}
        write_json_atomic(_record_path(data_dir, month), {"month": month, "sources": sources[month],
                                                          "references": refs})


def stale_reasons(record: dict | None, delivered: dict[tuple[str, str], str | None],
                  references: dict[str, dict] | None) -> list[str]:
    """Why a month built from `record` is out of date: deliveries of its windows that changed
    since (`delivered`: {(month, source): sha256}), reference files whose part for it changed
    (`references`: its entry of `reference_digests`). [] when current or never recorded."""
    if not record:
        return []
    reasons = []
    for source, shas in record.get("sources", {}).items():
        changed = [d for d, sha in shas.items() if delivered.get((d, source)) != sha]
        if changed:
            what = "delivered" if all(shas[d] is None for d in changed) else "corrected"
            reasons.append(f"{source} of {', '.join(sorted(changed))} {what} since it was built")
    for name, entry in (references or {}).items():
        before = record.get("references", {}).get(name)
        if before is None:
            continue
        # digest None: the build could not tell which file it loaded; then any change counts
        key = "digest" if before.get("digest") is not None else "sha256"
        if entry.get(key) != before.get(key):
            reasons.append(f"{name} changed for {record['month']}")
    return reasons


def dependants_of_run(con, data_dir: Path, landing_dir: Path, run: list[str], published: list[str]) -> list[str]:
    """The published months after `run` whose windows read a delivery of `run` that this run
    ingests anew (or that changed since they were built): they must be re-run with it."""
    delivered = {(m, s): sha for m, s, sha in con.execute("select month, source, sha256 from raw.source_files")
                 .fetchall()}
    for month in run:
        for source in SOURCES:
            found = [p for p in (Path(landing_dir) / month / f"{source}.{ext}" for ext in ("csv", "xlsx"))
                     if p.exists()]
            if len(found) == 1:
                delivered[(month, source)] = sha256_of(found[0])
    later = [m for m in published if m > run[-1]]
    out = []
    for month in later:
        record = read_record(data_dir, month)
        if record and any(d in run and delivered.get((d, s)) != sha
                          for s, shas in record.get("sources", {}).items() for d, sha in shas.items()):
            out.append(month)
    return out
