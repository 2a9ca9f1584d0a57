"""Everything Dagster knows about (loaded by workspace.yaml and the CLI): each domain under
`defs/<domain>/` brings its own Definitions (its `definitions.py`); this module only merges them."""
from __future__ import annotations

import dagster as dg

from orchestration.defs.operations.definitions import defs as operations
from orchestration.defs.publication.definitions import defs as publication
from orchestration.defs.sources.definitions import defs as sources
from orchestration.defs.transform.definitions import defs as transform

defs = dg.Definitions.merge(
    sources,
    transform,
    publication,
    operations,
    # One process for a run: imports, dbt start-up and GE load are paid once.
    dg.Definitions(executor=dg.in_process_executor),
)
