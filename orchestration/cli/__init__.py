"""The `vardval` command line: `commands` (the commands and their arguments), `run` (a monthly
run executed in a thread while `progress` prints its events), `dagster_home` (the instance
configuration written for the run), `job_run` (the run recorded under the UI's code location)
and `concurrency` (the warehouse pool's slots left by a process that died)."""
from orchestration.cli.commands import console_main, main

__all__ = ["console_main", "main"]
