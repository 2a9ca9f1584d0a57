"""Start the Dagster UI, screenshot what a data engineer looks at, stop the UI.

    .venv/bin/python scripts/ui_screenshot.py [--port N] [--out DIR] [--startup-timeout SECONDS]

Uses the same settings as `vardval` (VARDVAL_DATA_DIR, VARDVAL_LANDING_DIR, DAGSTER_HOME,
default `<data>/dagster_home`), so the pictures show the months that have run. Writes, under
`<data>/ui/`: `asset_lineage.png` (the global asset lineage, one box per group) and
`automation.png` (the schedule and the sensor); and when a run has failed on a blocked month,
the newest such run's page (`blocked_run.png`), the failed check on its asset
(`blocked_check.png`), the gate's metadata for the month (`blocked_month_gate.png`), the
published tables' partition of the month, not materialised (`blocked_published_tables.png`),
and the job's runs (`job_runs.png`). The UI's own log goes to `<data>/ui/webserver.log`.

Exit status: 0 every screenshot taken and not blank; 1 the UI did not answer, its definitions did
not load, or a screenshot is missing or blank; 2 no Chromium (`apt-get install -y chromium`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.settings import Settings, get_settings  # noqa: E402
from orchestration.cli.dagster_home import prepare_environment  # noqa: E402
from orchestration.cli.job_run import workspace_location  # noqa: E402

# Routes of the Dagster 1.13 UI.
PAGES = {
    "asset_lineage.png": "/asset-groups",   # "Lineage" in the side bar: the global asset graph
    "automation.png": "/automation",        # schedules and sensors
}
LOCATION = workspace_location()[0]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CATALOG_QUERY = """{
  assetNodes { assetKey { path } groupName }
  repositoriesOrError {
    ... on RepositoryConnection { nodes { name jobs { name } schedules { name } sensors { name } } }
    ... on PythonError { message }
  }
}"""
WORKSPACE_QUERY = """{
  workspaceOrError {
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message }
  }
}"""


class UiNotReady(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def ui_environment(settings: Settings) -> dict[str, str]:
    """The environment `vardval run` uses (and a prepared Dagster home), without changing ours."""
    saved = dict(os.environ)
    try:
        prepare_environment(settings)
        return dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def graphql(base_url: str, query: str, timeout: float = 30) -> dict:
    request = urllib.request.Request(f"{base_url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.load(response)
    if body.get("errors"):
        raise UiNotReady(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _location_state(base_url: str) -> tuple[str, str | None]:
    """('loading' | 'loaded' | 'error', message)."""
    workspace = graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"]
    if "locationEntries" not in workspace:
        return "error", workspace.get("message")
    entries = workspace["locationEntries"]
    if not entries or any(e["loadStatus"] != "LOADED" for e in entries):
        return "loading", None
    for entry in entries:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            return "error", f"{entry['name']}: {loaded.get('message')}"
    return "loaded", None


def wait_until_ready(base_url: str, process: subprocess.Popen, timeout: float) -> float:
    """Wait until the UI answers and its code location has loaded; return the seconds it took."""
    started = time.monotonic()
    while True:
        if process.poll() is not None:
            raise UiNotReady(f"dagster-webserver exited with status {process.returncode}")
        try:
            state, message = _location_state(base_url)
            if state == "loaded":
                return time.monotonic() - started
            if state == "error":
                raise UiNotReady(f"the definitions did not load: {message}")
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass  # not listening yet
        if time.monotonic() - started > timeout:
            raise UiNotReady(f"the UI did not answer at {base_url} within {timeout:.0f} s")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """Stop the webserver and its code server (one process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def webserver(settings: Settings, port: int | None = None, startup_timeout: float = 180,
              log_path: Path | None = None) -> Iterator[str]:
    """Run `dagster-webserver` on workspace.yaml; yield its base URL once the definitions loaded."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    executable = Path(sys.executable).with_name("dagster-webserver")
    command = [str(executable) if executable.exists() else "dagster-webserver",
               "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    log_path = log_path or settings.data_dir / "ui" / "webserver.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=REPO, env=ui_environment(settings), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            try:
                wait_until_ready(base_url, process, startup_timeout)
            except UiNotReady as exc:
                raise UiNotReady(f"{exc} (log: {log_path})") from None
            yield base_url
        finally:
            _stop(process)


def catalog(base_url: str) -> dict:
    """What the UI lists: asset count per group, and the jobs, schedules and sensors."""
    data = graphql(base_url, CATALOG_QUERY)
    groups: dict[str, int] = {}
    for node in data["assetNodes"]:
        groups[node["groupName"]] = groups.get(node["groupName"], 0) + 1
    repositories = data["repositoriesOrError"].get("nodes", [])
    return {
        "groups": groups,
        "jobs": sorted(j["name"] for r in repositories for j in r["jobs"]),
        "schedules": sorted(s["name"] for r in repositories for s in r["schedules"]),
        "sensors": sorted(s["name"] for r in repositories for s in r["sensors"]),
    }


def is_blank(png: Path) -> bool:
    """Missing, empty, not a PNG, or (when Pillow is there) a single flat colour."""
    if not png.exists() or png.stat().st_size == 0:
        return True
    if png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return True
    try:
        from PIL import Image
    except ImportError:
        return False
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=64)
    return colours is not None and len(colours) < 8   # None: more than 64 colours, a real page


def screenshot(chromium: str, url: str, png: Path, budget_ms: int = 15000, timeout: float = 120) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="vardval-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1600,1000",
             f"--virtual-time-budget={budget_ms}", f"--screenshot={png}", url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=timeout, check=False)


def blocked_month_pages(settings: Settings) -> dict[str, str]:
    """The pages of the newest run that failed on a blocked month (a failed ERROR check with a
    partition), or {} if there is none."""
    import dagster as dg

    home = Path(ui_environment(settings)["DAGSTER_HOME"])
    if not (home / "dagster.yaml").exists():
        return {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        failed_runs = instance.get_runs(dg.RunsFilter(job_name="monthly_job",
                                                      statuses=[dg.DagsterRunStatus.FAILURE]), limit=20)
        for run in failed_runs:
            records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                                   limit=10_000).records
            for record in records:
                evaluation = record.event_log_entry.dagster_event.event_specific_data
                if (not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
                        and evaluation.blocking and evaluation.partition):
                    asset = "/".join(evaluation.asset_key.path)
                    month = evaluation.partition
                    return {
                        "blocked_run.png": f"/runs/{run.run_id}",
                        "blocked_check.png": f"/assets/{asset}?view=checks&checkDetail={evaluation.check_name}",
                        "blocked_month_gate.png": f"/assets/{asset}?view=partitions&partition={month}",
                        "blocked_published_tables.png":
                            f"/assets/publication/published_tables?view=partitions&partition={month}",
                        "job_runs.png": f"/locations/{LOCATION}/jobs/monthly_job/runs",
                    }
    return {}


def take_screenshots(chromium: str, base_url: str, out_dir: Path, pages: dict[str, str] | None = None) -> list[Path]:
    """Screenshot every page; raise UiNotReady naming the pages that came out blank."""
    shots, blank = [], []
    for name, route in (pages or PAGES).items():
        png = out_dir / name
        screenshot(chromium, base_url + route, png)
        (blank if is_blank(png) else shots).append(png)
    if blank:
        raise UiNotReady(f"blank or missing screenshot(s): {', '.join(str(p) for p in blank)}")
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="port for the UI (default: a free one)")
    parser.add_argument("--out", type=Path, help="folder for the PNGs (default <data>/ui)")
    parser.add_argument("--startup-timeout", type=float, default=180, help="seconds to wait for the UI")
    args = parser.parse_args(argv)

    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found: install it (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2
    settings = get_settings()
    out_dir = (args.out or settings.data_dir / "ui").resolve()
    started = time.monotonic()
    try:
        with webserver(settings, args.port, args.startup_timeout) as base_url:
            print(f"UI answered at {base_url} after {time.monotonic() - started:.1f} s")
            listed = catalog(base_url)
            print("asset groups: " + ", ".join(f"{g} ({n})" for g, n in sorted(listed["groups"].items())))
            print(f"jobs: {listed['jobs']}; schedules: {listed['schedules']}; sensors: {listed['sensors']}")
            if not listed["groups"]:
                raise UiNotReady("the UI lists no assets")
            pages = {**PAGES, **blocked_month_pages(settings)}
            shots = take_screenshots(chromium, base_url, out_dir, pages)
    except UiNotReady as exc:
        print(f"ui_screenshot: {exc}", file=sys.stderr)
        return 1
    for png in shots:
        print(f"wrote {png} ({png.stat().st_size:,} bytes)")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
