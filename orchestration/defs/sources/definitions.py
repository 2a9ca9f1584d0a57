"""The sources domain: reference data and each month's deliveries landed in raw.*, with the
contract checks beside them (checks.py)."""
import dagster as dg

from orchestration.defs.sources.assets import reference_data, source_deliveries

defs = dg.Definitions(assets=[reference_data, source_deliveries])
