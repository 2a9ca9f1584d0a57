"""Expectation suites (Great Expectations 1.x, imported lazily) and reconciliations on the marts."""
from validations.expectations.runner import run_month_checks, run_range_checks

__all__ = ["run_month_checks", "run_range_checks"]
