"""docs/guarantees.md names only tests that exist (a renamed test must update the page)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_guarantees_exists():
    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    named, current = [], None
    # `file.py::test_name[case]`, and `::test_name` continuing the last file named
    for file, name in re.findall(r"`(?:(test_\w+\.py))?::(test_\w+)", text):
        current = file or current
        named.append((current, name))
    assert len(named) > 40
    missing = [f"{file}::{name}" for file, name in named
               if not re.search(rf"^def {name}\(", (ROOT / "tests" / file).read_text(encoding="utf-8"), re.M)]
    assert missing == []
