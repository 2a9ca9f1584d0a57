"""Everything Dagster knows about (loaded by workspace.yaml and the CLI): each domain under
`defs/<domain>/` brings its own Definitions (its `definitions.py`); this module only merges them."""
from __future__ import annotations

import dagster as dg

from orchestration.runtime.dagster_dbt_import import import_dagster_dbt

# Before any dbt asset module imports dagster-dbt: with the runtime's `lean_dbt` piece it is
# imported without dbt-core (orchestration/runtime/dagster_dbt_import.py).
import_dagster_dbt()

from orchestration.defs.operations import definitions as operations  # noqa: E402
from orchestration.defs.publication import definitions as publication  # noqa: E402
from orchestration.defs.sources import definitions as sources  # noqa: E402
from orchestration.defs.transform import definitions as transform  # noqa: E402

# The domains' modules, not their Definitions objects, are bound here: Dagster's loader accepts
# one Definitions at a module's scope.
defs = dg.Definitions.merge(
    sources.defs,
    transform.defs,
    publication.defs,
    operations.defs,
    # One process for a run: imports, dbt start-up and GE load are paid once.
    dg.Definitions(executor=dg.in_process_executor),
)
