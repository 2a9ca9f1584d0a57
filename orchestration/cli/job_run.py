"""Execute monthly_job in this process as a run of the code location the UI loads.

`JobDefinition.execute_in_process` records a run with no origin: the UI then lists it under
Runs but not under its job, and not on the Overview timeline, which group runs by their code
location. Here the run is created with the origin of workspace.yaml's location (its name, the
repository of `orchestration.definitions`) and executed in this process, as
`execute_in_process` does.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "workspace.yaml"
JOB_NAME = "monthly_job"


def workspace_location() -> tuple[str, str]:
    """(location name, module) of the code location in workspace.yaml."""
    target = yaml.safe_load(WORKSPACE.read_text(encoding="utf-8"))["load_from"][0]["python_module"]
    return target.get("location_name") or target["module_name"], target["module_name"]


def execute_monthly_job(instance, run_id: str, tags: dict[str, str], run_config: dict) -> bool:
    """Run monthly_job over the run's months; True if the run succeeded."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.execution.api import create_execution_plan, execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    location, module = workspace_location()
    repository = ReconstructableRepository.for_module(module, "defs", working_directory=str(REPO))
    job = repository.get_reconstructable_job(JOB_NAME)
    job_def = job.get_definition()
    tags = {**job_def.run_tags, **tags}
    plan = create_execution_plan(job, run_config=run_config, tags=tags, instance_ref=instance.get_ref())
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=ManagedGrpcPythonEnvCodeLocationOrigin(
                LoadableTargetOrigin(executable_path=sys.executable, module_name=module,
                                     working_directory=str(REPO)),
                location_name=location),
            repository_name=SINGLETON_REPOSITORY_NAME),
        job_name=JOB_NAME)
    run = instance.create_run_for_job(job_def=job_def, execution_plan=plan, run_id=run_id, run_config=run_config,
                                      tags=tags, remote_job_origin=origin, job_code_origin=job.get_python_origin())
    return execute_run(job, run, instance).success
