"""The `ge_preload` piece (orchestration/runtime): Great Expectations (~10 s of imports) imported
in a thread while dbt runs in its subprocess. The gate after dbt needs it, and the run's
process mostly waits on dbt meanwhile. Python's import lock makes the gate wait for this
import if it is not finished, so it is imported once."""
from __future__ import annotations

import sys
import threading

from orchestration.runtime import enabled


def preload_great_expectations() -> None:
    if enabled("ge_preload") and "great_expectations" not in sys.modules:
        threading.Thread(target=_import, name="preload-great-expectations", daemon=True).start()


def _import() -> None:
    try:
        import great_expectations  # noqa: F401
        import great_expectations.expectations  # noqa: F401

        import validations.expectations  # noqa: F401
    except Exception:  # noqa: BLE001 - the gate imports them again and reports any error there
        pass
