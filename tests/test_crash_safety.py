"""Crash safety: `vardval run` killed (SIGKILL, whole process group) at every stage boundary of a
corrected range, then read, then run again.

A copy of the `published_region` gets a correction for 2025-01 and 2025-02 (so the run has
something to ingest, build and publish as v2 of both months); the run is killed during
ingestion, during dbt, while the publication exports, and at each step of the publication's
commit (docs/decisions.md, "One commit point for both published forms"): a version staged but
not committed, the commit journal written, the Parquet swapped, published.duckdb swapped, the
catalog swapped. The commit's kills come from the publisher itself at exactly that point
(`VARDVAL_FAULT_AT`, a test-only hook in publisher.py); the others are timed from outside.

After each kill, readers of published.duckdb, of the Parquet via catalog.json and of the
current Parquet tree, and `vardval status`, all name the same version of each month: the old
one before the commit point, the new one after it (status finishes an interrupted commit). The
next run then completes, and its published files are byte for byte those of a run that was
never killed; nothing half-written or orphaned is left, no lock blocks.

The killed runs are slow (a killed run and a full run per case): `make test-all` or
`pytest -m slow`. The commit's stages are also crashed in a fast test on the marts fixture.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.defs.publication.gate import month_fingerprint, record_checks
from orchestration.defs.publication.publisher import publish_month, read_catalog
from tests.delivery_edits import Delivery
from tests.marts_fixture import build_marts_warehouse
from tests.pipeline_fixture import VARDVAL, Region, published_db_content, run_ok
from tests.published_reader import MONTHLY, check_db
from validations.outcome import CheckOutcome


def _output_has(pattern: str):
    def reached(region: Region, output: Path) -> bool:
        return pattern in output.read_text(errors="replace")
    return reached


def _staging_dir_exists(region: Region, output: Path) -> bool:
    return any((region.published / "versions" / "2025-02").glob(".tmp-*/*.parquet"))


PHASES = {
    # phase: (reached?, poll interval, extra delay before the kill)
    "ingest": (_output_has("2025-01 listing:"), 0.02, 0.0),
    "dbt": (_output_has("dbt build for"), 0.05, 3.0),
    "publication export": (_staging_dir_exists, 0.002, 0.0),
}
# killed by the publisher itself (VARDVAL_FAULT_AT); True: after the commit point
HOOKED_PHASES = {"staged": False, "commit:journal": True, "commit:parquet": True, "commit:duckdb": True,
                 "commit:catalog": True}


def _correct_range(region: Region) -> None:
    """Ten SÄBO residents more in each month's listing: both months get a v2."""
    for month in ("2025-01", "2025-02"):
        listing = Delivery.load(region.landing / month / "listing.csv")
        yes = "true" if listing.get(0, "sabo") in ("true", "false") else "ja"
        for i in range(0, 10):
            listing.set(i, "sabo", yes)
        listing.save()


def _run_and_kill(region: Region, phase: str, output: Path) -> bool:
    """Start a run, SIGKILL its process group when the phase is reached; True if it was."""
    from orchestration.defs.publication.publisher import FAULT_ENV

    hooked = phase in HOOKED_PHASES
    reached, interval, delay = PHASES.get(phase, (None, 0.0, 0.0))
    with output.open("w") as sink:
        process = subprocess.Popen([VARDVAL, "run", "--from", "2025-01", "--to", "2025-02"], stdout=sink,
                                   stderr=subprocess.STDOUT, env=region.env(**({FAULT_ENV: phase} if hooked else {})),
                                   cwd=region.root, start_new_session=True)
    hit = False
    try:
        if hooked:
            hit = process.wait(timeout=600) == -signal.SIGKILL
        deadline = time.monotonic() + 600
        while not hooked and process.poll() is None and time.monotonic() < deadline:
            if reached(region, output):
                hit = True
                time.sleep(delay)
                break
            time.sleep(interval)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    # nothing of the run may survive it (a dbt child holding the warehouse, say); the killed
    # children need a moment to be reaped
    deadline = time.monotonic() + 30
    while (survivors := _living_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert survivors == [], f"processes of the killed run survive: {survivors}"
    return hit


def _living_members(pgid: int) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pgid=,stat=,pid=,args="], capture_output=True, text=True).stdout
    return [line.strip() for line in listing.splitlines()
            if line.split() and line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_published_consistent(region: Region, expect: dict[str, int]) -> None:
    published = region.published
    catalog = json.loads((published / "catalog.json").read_text())
    assert {m: e["latest_version"] for m, e in catalog["months"].items()} == expect
    for month, latest in expect.items():
        dirs = sorted(p.name for p in (published / "versions" / month).iterdir())
        assert dirs == [f"v{v:04d}" for v in range(1, latest + 1)], f"{month}: {dirs}"
        for version in range(1, latest + 1):
            folder = published / "versions" / month / f"v{version:04d}"
            manifest = json.loads((folder / "manifest.json").read_text())
            for table, info in manifest["tables"].items():
                assert _sha(folder / info["file"]) == info["file_sha256"], f"{folder.name}/{info['file']}"
                assert pq.read_table(folder / info["file"]).num_rows == info["rows"]
        latest_dir = published / "versions" / month / f"v{latest:04d}"
        for table in MONTHLY:
            assert _sha(published / table / f"month={month}" / "data.parquet") == \
                _sha(latest_dir / f"{table}.parquet"), f"current {table} of {month} is not v{latest}"
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        assert check_db(con, published) == expect
        months = con.execute("select month, count(*) from published_versions group by 1 order by 1").fetchall()
        assert months == [(m, 1) for m in sorted(expect)]
    leftovers = [str(p.relative_to(published)) for p in published.rglob("*")
                 if p.name.startswith(".tmp-") or p.name.endswith((".tmp", ".wal"))
                 or (p.name.startswith(".published.") and p.suffix == ".duckdb")]
    assert leftovers == [], f"half-written files left: {leftovers}"


def _status_versions(stdout: str) -> dict[str, int]:
    """{month: the published version `vardval status` names}, whatever the state around it."""
    found = {}
    for line in stdout.splitlines():
        month = re.search(r"\b(20\d\d-\d\d)\b", line)
        version = re.search(r"published v(\d+)|\(v(\d+) (?:published|kept)\)", line)
        if month and version:
            found[month.group(1)] = int(version.group(1) or version.group(2))
    return found


@pytest.fixture(scope="module")
def clean_corrected_run(published_region, tmp_path_factory) -> Region:
    """The corrected range run once without a kill: what every killed run must converge to."""
    region = published_region.copy(tmp_path_factory.mktemp("clean") / "region")
    _correct_range(region)
    run_ok(region, "run", "--from", "2025-01", "--to", "2025-02")
    return region


@pytest.mark.slow
@pytest.mark.parametrize("phase", [*PHASES, *HOOKED_PHASES])
def test_a_run_killed_at_any_stage_boundary_leaves_one_state_and_converges(published_region, clean_corrected_run,
                                                                          tmp_path, phase):
    from tests.test_repeatability import published_bytes

    region = published_region.copy(tmp_path / "region")
    _correct_range(region)
    hit = _run_and_kill(region, phase, tmp_path / "killed_run.txt")
    assert hit, f"the run ended before reaching {phase}:\n{(tmp_path / 'killed_run.txt').read_text()[-3000:]}"

    old, new = {"2025-01": 1, "2025-02": 1}, {"2025-01": 2, "2025-02": 2}
    if not HOOKED_PHASES.get(phase):
        # before the commit point nothing a reader sees has changed
        assert_forms_agree(region.published, old)
    status = run_ok(region, "status")
    expect = new if HOOKED_PHASES.get(phase) else old
    assert_forms_agree(region.published, expect)
    assert _status_versions(status.stdout) == expect, status.stdout

    result = run_ok(region, "run", "--from", "2025-01", "--to", "2025-02")
    assert "published v2" in result.stdout
    assert_published_consistent(region, new)
    assert_forms_agree(region.published, new)
    # the warehouse is not left locked, and agrees with what is published
    status = run_ok(region, "status")
    assert status.stdout.count("published v2") == 2 and "stale" not in status.stdout
    # converged: the same bytes as a run that was never killed
    assert published_bytes(region) == published_bytes(clean_corrected_run)
    assert published_db_content(region) == published_db_content(clean_corrected_run)


def test_the_next_publication_removes_what_a_killed_one_left(tmp_path):
    """Unit level: an orphan version, a staging dir and the temp files written aside."""
    data = tmp_path / "data"
    warehouse = build_marts_warehouse(data)
    ok = [CheckOutcome("components_sum_to_total", "marts.reimbursement_monthly", True, True, "fine.", {})]

    def publish(month):
        record_checks(data, month, month_fingerprint(warehouse, month), ok)
        return publish_month(warehouse, data, month, input_checksums={}, check_outcomes=ok, code_version="test")

    publish("2025-01")
    published = data / "published"
    litter = [published / "versions" / "2025-01" / ".tmp-0badc0de" / "indicators_monthly.parquet",
              published / "versions" / "2025-01" / "v0002" / "indicators_monthly.parquet",
              published / "indicators_monthly" / "month=2025-01" / ".data.parquet.0badc0de.tmp",
              published / "open_data" / ".indicators_monthly_2025-01.csv.0badc0de.tmp",
              published / ".catalog.json.0badc0de.tmp",
              published / ".published.0badc0de.duckdb", published / ".published.0badc0de.duckdb.wal"]
    for path in litter:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    publish("2025-02")
    assert [p for p in litter if p.exists()] == []
    assert not (published / "versions" / "2025-01" / "v0002").exists()
    assert {m: e["latest_version"] for m, e in read_catalog(published)["months"].items()} == \
        {"2025-01": 1, "2025-02": 1}
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        assert check_db(con, published) == {"2025-01": 1, "2025-02": 1}


# --------------------------------------------------------------- the commit, crashed at each swap

def published_forms(published: Path) -> dict[str, dict[str, int]]:
    """What each reader finds, {month: version}: catalog.json, published.duckdb's
    published_versions (each month's rows checked against that version's manifest), and the
    current Parquet tree (each file matched to the version it is a file of)."""
    catalog = {m: int(e["latest_version"]) for m, e in read_catalog(published)["months"].items()}
    db = {}
    if (published / "published.duckdb").exists():
        with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
            db = check_db(con, published)
    current = {}
    for month in sorted({p.parent.name.split("=", 1)[1] for p in published.glob("*/month=*/data.parquet")}):
        # the versions every current file of the month is a file of (tables a correction left
        # unchanged are the same file in both versions)
        manifests = {int(d.name[1:]): json.loads((d / "manifest.json").read_text())
                     for d in (published / "versions" / month).glob("v[0-9]*") if (d / "manifest.json").exists()}
        origins = set(manifests)
        for table in MONTHLY:
            digest = _sha(published / table / f"month={month}" / "data.parquet")
            origins &= {v for v, m in manifests.items() if m["tables"][table]["file_sha256"] == digest}
        assert origins, f"the current Parquet of {month} is a mix of versions"
        current[month] = max(origins) if catalog.get(month) not in origins else catalog[month]
    return {"catalog.json": catalog, "published.duckdb": db, "current Parquet": current}


def assert_forms_agree(published: Path, expect: dict[str, int]) -> None:
    forms = published_forms(published)
    assert forms == {name: expect for name in forms}, forms


_RANGE_PUBLICATION = """
import sys
from pathlib import Path
from orchestration.defs.publication.publisher import publication
warehouse, data = Path(sys.argv[1]), Path(sys.argv[2])
with publication(data) as batch:
    for month in ("2025-01", "2025-02"):
        batch.publish(warehouse, month, input_checksums={}, check_outcomes=[], code_version="test")
"""
COMMIT_STAGES = ["staged", "commit:journal", "commit:parquet", "commit:duckdb", "commit:catalog"]


def _corrected_range(data: Path) -> Path:
    """Both months published as v1, then both corrected and checked (a corrected range)."""
    from tests.marts_fixture import VC_B, execute

    warehouse = build_marts_warehouse(data)
    ok = [CheckOutcome("components_sum_to_total", "marts.reimbursement_monthly", True, True, "fine.", {})]
    for month in ("2025-01", "2025-02"):
        record_checks(data, month, month_fingerprint(warehouse, month), ok)
        publish_month(warehouse, data, month, input_checksums={}, check_outcomes=ok, code_version="test")
    execute(warehouse, "update marts.reimbursement_monthly set sabo = sabo + 350, total = total + 350 "
                       f"where vardcentral_hsa_id = '{VC_B}'")
    for month in ("2025-01", "2025-02"):
        record_checks(data, month, month_fingerprint(warehouse, month), ok)
    return warehouse


@pytest.mark.parametrize("stage", COMMIT_STAGES)
def test_a_publication_killed_at_each_swap_leaves_one_committed_state(tmp_path, stage):
    """kill -9 (VARDVAL_FAULT_AT) at each stage of a range's commit: before the commit point every
    reader still finds v1; after it, the next reader of the state (`vardval status` calls
    complete_interrupted_commit) finds v2 everywhere; publishing again converges to the bytes
    of a publication that was never interrupted."""
    from orchestration.defs.publication.publisher import FAULT_ENV, complete_interrupted_commit, publication
    from tests.pipeline_fixture import tree_digest

    data = tmp_path / "data"
    warehouse = _corrected_range(data)
    published = data / "published"
    env = {**os.environ, FAULT_ENV: stage}
    killed = subprocess.run([sys.executable, "-c", _RANGE_PUBLICATION, str(warehouse), str(data)], env=env,
                            start_new_session=True, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    committed = stage not in ("staged", "commit:journal")
    if not committed:   # nothing visible changed
        assert_forms_agree(published, {"2025-01": 1, "2025-02": 1})
    assert complete_interrupted_commit(data) == (stage != "staged")
    after = {"2025-01": 2, "2025-02": 2} if stage != "staged" else {"2025-01": 1, "2025-02": 1}
    assert_forms_agree(published, after)

    with publication(data) as batch:
        for month in ("2025-01", "2025-02"):
            batch.publish(warehouse, month, input_checksums={}, check_outcomes=[], code_version="test")
    assert_forms_agree(published, {"2025-01": 2, "2025-02": 2})
    assert not (published / ".commit").exists()

    clean = tmp_path / "clean"
    clean_warehouse = _corrected_range(clean)
    with publication(clean) as batch:
        for month in ("2025-01", "2025-02"):
            batch.publish(clean_warehouse, month, input_checksums={}, check_outcomes=[], code_version="test")
    content = lambda root: {p: h for p, h in tree_digest(root / "published").items()
                            if p.endswith((".parquet", ".csv")) and not p.endswith("payouts.parquet")}
    assert content(data) == content(clean)
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        assert check_db(con, published) == {"2025-01": 2, "2025-02": 2}
