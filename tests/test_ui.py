"""The Dagster UI serves our definitions: one `dagster-webserver` for the module, asked over GraphQL,
and screenshotted with headless Chromium when it is installed (scripts/ui_screenshot.py)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "ui_screenshot.py"
GROUPS = {"sources", "staging", "indicators", "reimbursement", "quality", "publication"}


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
