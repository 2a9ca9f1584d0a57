"""The publication domain: the month's gate with its blocking checks (checks.py), the published
tables, statements and the report (assets.py)."""
import dagster as dg

from orchestration.defs.publication.assets import publication

defs = dg.Definitions(assets=[publication])
