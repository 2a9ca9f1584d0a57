"""One writer at a time on the warehouse: the Dagster pool "warehouse" and its slots.

Every asset is in the pool "warehouse"; the instance config written by `vardval` limits it to
one slot (`concurrency: pools: default_limit: 1`), so a step of any run waits while a step of
another run holds the warehouse. A slot is freed when its step ends. A process that dies
mid-step (killed, machine restarted) leaves its slot claimed and every later run would wait for
ever; `release_stale_slots` frees the slots of runs that have finished and of `vardval` runs
whose process is gone, before a new run starts.
"""
from __future__ import annotations

import os
import socket

POOL = "warehouse"
PID_TAG = "vardval/pid"
HOST_TAG = "vardval/host"


def process_tags() -> dict[str, str]:
    """Tags that let a later run tell whether this process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_gone(run) -> bool:
    tags = run.tags
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False  # not a vardval run on this machine: we cannot tell, so leave it
    return not _process_alive(int(tags[PID_TAG]))


def release_stale_slots(instance, pool: str = POOL) -> list[str]:
    """Free the pool's slots held by finished runs or by dead `vardval` processes; say what was freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    notes = []
    for run_id in sorted({slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            notes.append(f"freed the {pool} slot of run {run_id[:8]} ({run.status.value if run else 'deleted'})")
        elif _owner_gone(run):
            instance.report_run_failed(run, message=f"the vardval process (PID {run.tags[PID_TAG]}) "
                                                    "ended before the run finished")
            storage.free_concurrency_slots_for_run(run_id)
            notes.append(f"run {run_id[:8]} was left unfinished by a process that is gone: marked failed, "
                         f"its {pool} slot freed")
    return notes


def holders(instance, pool: str = POOL) -> list[str]:
    """Runs (and steps) holding the pool now, for a 'waiting for ...' message."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    return [f"run {slot.run_id[:8]} ({slot.step_key})" for slot in storage.get_concurrency_info(pool).claimed_slots]


def release_run(instance, run_id: str, message: str) -> None:
    """An interrupted run: mark it canceled and give its slot back."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, message=message)
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
