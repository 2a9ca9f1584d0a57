"""The Dagster UI serves our definitions: one `dagster-webserver` for the module, asked over GraphQL,
and screenshotted with headless Chromium when it is installed (scripts/ui_screenshot.py).

The slow tests run a blocked month first (a copy of the `published_region` whose 2025-02
telephony file is over the quarantine limit) and look at it as a data engineer would: the run
in its job's list, failed; the failed check by its name; the month's partitions.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "ui_screenshot.py"
GROUPS = {"sources", "staging", "shared", "indicators", "reimbursement", "quality", "publication"}


def _load_script():
    spec = importlib.util.spec_from_file_location("ui_screenshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ui_screenshot = _load_script()
NO_CHROMIUM = "chromium is not installed (Debian: apt-get install -y chromium); the screenshot is then " \
              "a manual check (docs/runbook.md, 'The UI')"


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VARDVAL_DATA_DIR", str(root / "data"))
        env.setenv("VARDVAL_LANDING_DIR", str(root / "landing"))
        env.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        settings = ui_screenshot.get_settings()
        with ui_screenshot.webserver(settings, startup_timeout=240) as base_url:
            yield base_url


def test_the_ui_lists_every_group_the_job_the_schedule_and_the_sensor(ui_url):
    listed = ui_screenshot.catalog(ui_url)
    assert set(listed["groups"]) == GROUPS
    assert all(count > 0 for count in listed["groups"].values())
    assert "monthly_job" in listed["jobs"]
    assert listed["schedules"] == ["previous_month_schedule"]
    assert listed["sensors"] == ["landing_sensor"]


@pytest.mark.skipif(ui_screenshot.find_chromium() is None, reason=NO_CHROMIUM)
def test_screenshots_of_the_lineage_and_the_automation_page(ui_url, tmp_path):
    shots = ui_screenshot.take_screenshots(ui_screenshot.find_chromium(), ui_url, tmp_path)
    assert [p.name for p in shots] == ["asset_lineage.png", "automation.png"]
    for png in shots:
        assert not ui_screenshot.is_blank(png)
        assert png.stat().st_size > 20_000, f"{png} looks empty"


def test_the_script_fails_when_the_ui_does_not_answer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VARDVAL_", "DAGSTER_"))}
    env.update({"VARDVAL_DATA_DIR": str(tmp_path / "data"), "VARDVAL_LANDING_DIR": str(tmp_path / "landing")})
    result = subprocess.run([sys.executable, str(SCRIPT), "--startup-timeout", "0.5"], env=env,
                            capture_output=True, text=True, timeout=120)
    if ui_screenshot.find_chromium() is None:
        assert result.returncode == 2 and "no Chromium" in result.stderr
    else:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "did not answer" in result.stderr


def test_a_blank_or_missing_png_counts_as_empty(tmp_path):
    assert ui_screenshot.is_blank(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    assert ui_screenshot.is_blank(tmp_path / "empty.png")
    from PIL import Image

    Image.new("RGB", (200, 100), "white").save(tmp_path / "white.png")
    assert ui_screenshot.is_blank(tmp_path / "white.png")


# --- a blocked month in the UI ---------------------------------------------------------------------

RUNS_OF_JOB = """{
  runsOrError(filter: {pipelineName: "monthly_job", tags: [{key: ".dagster/repository", value: "%s"}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""
GATE_CHECKS = """{
  assetNodeOrError(assetKey: {path: ["publication", "month_gate"]}) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name blocking description } } } }
  }
}"""


@pytest.fixture(scope="module")
def blocked_region(published_region, tmp_path_factory):
    from tests.delivery_edits import Delivery

    region = published_region.copy(tmp_path_factory.mktemp("blocked_ui") / "region")
    telephony = Delivery.load(region.landing / "2025-02" / "telephony.csv")
    over = len(telephony.rows) // 200 + 1          # just over the 0.5 % limit
    for i in range(over):
        telephony.set(i * (len(telephony.rows) // over), "vardcentral_hsa_id", "SE2321000180-E000000000999")
    telephony.save()
    result = region.vardval("run", "--from", "2025-02")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    return region


@pytest.fixture(scope="module")
def blocked_ui(blocked_region):
    env = blocked_region.env()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("VARDVAL_DATA_DIR", "VARDVAL_LANDING_DIR", "DAGSTER_HOME", "VARDVAL_PSEUDONYM_KEY"):
            patch.setenv(name, env[name])
        settings = ui_screenshot.get_settings()
        with ui_screenshot.webserver(settings, startup_timeout=240) as base_url:
            yield base_url, settings


@pytest.mark.slow
def test_the_blocked_run_is_listed_under_its_job_as_failed(blocked_ui):
    base_url, _ = blocked_ui
    label = f"__repository__@{ui_screenshot.LOCATION}"
    runs = ui_screenshot.graphql(base_url, RUNS_OF_JOB % label)["runsOrError"]["results"]
    latest = runs[0]
    assert latest["status"] == "FAILURE"
    assert {"key": "vardval/months", "value": "2025-02"} in latest["tags"]
    checks = ui_screenshot.graphql(base_url, GATE_CHECKS)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    by_name = {check["name"]: check for check in checks}
    assert by_name["quarantine_within_limit"]["blocking"] and by_name["components_sum_to_total"]["blocking"]
    assert not by_name["listed_count_plausible"]["blocking"]


@pytest.mark.slow
@pytest.mark.skipif(ui_screenshot.find_chromium() is None, reason=NO_CHROMIUM)
def test_screenshots_of_a_blocked_month(blocked_ui, tmp_path):
    base_url, settings = blocked_ui
    pages = ui_screenshot.blocked_month_pages(settings)
    assert pages["blocked_check.png"].endswith("checkDetail=quarantine_within_limit")
    assert pages["blocked_published_tables.png"].endswith("partition=2025-02")
    shots = ui_screenshot.take_screenshots(ui_screenshot.find_chromium(), base_url, tmp_path, pages)
    assert sorted(p.name for p in shots) == sorted(pages)
    for png in shots:
        assert png.stat().st_size > 40_000, f"{png} looks empty"
