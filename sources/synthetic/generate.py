"""generate_region: simulate the synthetic region month by month and write its landing files.

Simulation starts from the first requested month (the population is drawn as it stands at the
end of the month before) and steps through every month up to the last requested one, writing only
the requested months. So a month's files depend on (seed, scale, first requested month, the
month), never on later months. Every random draw comes from a generator seeded by
(seed, purpose, month); nothing uses global random state, the clock or set/dict ordering.

Dates tied to the range (all derived from the first requested month m0): the new VC opens on the
first day of m0 + 2; the listing cap runs from m0 + 3 to the end of m0 + 8; the development grant
is paid in m0 + 5 (or the last month if the range is shorter). File-format variants depend only on
the calendar month (see writer.variants).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import months as mo
from .calls import OUTCOMES, QUEUES, generate_calls
from .contacts import CONTACT_TYPES, STATUSES, generate_contacts
from .listing import initial_population, snapshot_index, step
from .population import PnrAllocator, build_deso
from .reference import (
    cni_years,
    write_acg,
    write_cni,
    write_extra_assignments,
    write_grants,
    write_model,
    write_registry,
)
from .units import PROFESSIONS, Registry, build_registry
from .writer import (
    bool_column,
    date_column,
    id_column,
    label_column,
    pnr_column,
    timestamp_column,
    variants,
    write_table,
)


def generate_region(landing_dir: Path, months: list[str], scale: float = 1.0, seed: int = 20250101,
                    verbose: bool = False) -> dict:
    """Write the SPEC §3.1 landing layout for `months` ('YYYY-MM'); return rows per written file."""
    if not months:
        raise ValueError("no months to generate")
    landing = Path(landing_dir)
    wanted = sorted({mo.month_index(m) for m in months})
    m0, m_last = wanted[0], wanted[-1]
    summary: dict[str, int] = {}
    t0 = time.perf_counter()

    def log(msg):
        if verbose:
            print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    reg = build_registry(scale, m0, seed)
    deso = build_deso(reg.n_copies, seed)
    alloc = PnrAllocator(seed)
    pop = initial_population(reg, deso, alloc, m0, seed)
    log(f"initial population {len(pop):,}")
    for m in range(m0, m_last + 1):
        step(pop, reg, deso, alloc, m, seed)
        if m not in wanted:
            continue
        label = mo.month_label(m)
        var = variants(label, scale)
        folder = landing / label
        path, n = write_table(folder / "listing", listing_table(pop, reg, deso, m, var["listing"]), var["listing"])
        for stale in (folder / "listing.csv", folder / "listing.xlsx"):  # the other format of a re-run
            if stale != path and stale.exists():
                stale.unlink()
        summary[f"{label}/{path.name}"] = n
        log(f"{label} listing {n:,}")
        path, n = write_table(folder / "visits", visits_table(generate_contacts(pop, reg, m, seed), pop, reg, m,
                                                              var["visits"]), var["visits"])
        summary[f"{label}/{path.name}"] = n
        log(f"{label} visits {n:,}")
        path, n = write_table(folder / "telephony", telephony_table(generate_calls(pop, reg, m, seed), reg, m,
                                                                    var["telephony"]), var["telephony"])
        summary[f"{label}/{path.name}"] = n
        log(f"{label} telephony {n:,}")

    ref = landing / "reference"
    summary["reference/vardcentraler.csv"] = write_registry(ref / "vardcentraler.csv", reg)
    summary["reference/reimbursement_model.yaml"] = write_model(ref / "reimbursement_model.yaml")
    summary["reference/cni_areas.csv"] = write_cni(ref / "cni_areas.csv", deso, cni_years(wanted), seed)
    summary["reference/acg_weights.csv"] = write_acg(ref / "acg_weights.csv", pop, wanted, seed)
    summary["reference/development_grants.csv"] = write_grants(ref / "development_grants.csv", reg, wanted)
    summary["reference/extra_assignments.csv"] = write_extra_assignments(ref / "extra_assignments.csv", reg,
                                                                         wanted)
    log("reference files")
    return dict(sorted(summary.items()))


def listing_table(pop, reg: Registry, deso, m: int, var) -> pa.Table:
    idx = snapshot_index(pop, m)
    unit = pop.unit[idx]
    doc = reg.staff_off[unit, 0] + pop.pref_doc[idx] % reg.staff_n[unit, 0]
    return pa.table({
        "personnummer": pnr_column(pop.pnr[idx], var.hyphen),
        "vardcentral_hsa_id": label_column(reg.hsa, unit),
        "listed_from": date_column(pop.listed_from[idx]),
        "listing_type": label_column(["passiv", "aktiv"], pop.aktiv[idx].astype(np.int64)),
        "fast_lakare_hsa_id": label_column(reg.staff_hsa, np.where(pop.fl[idx], doc, -1)),
        "sabo": bool_column(pop.sabo[idx], var.bools),
        "deso": label_column(deso.codes, pop.deso[idx]),
    })


def visits_table(c: dict, pop, reg: Registry, m: int, var) -> pa.Table:
    return pa.table({
        "contact_id": id_column(f"K{mo.month_label(m).replace('-', '')}", c["contact_id"]),
        "personnummer": pnr_column(c["pnr"], var.hyphen, c["reserve"]),
        "vardcentral_hsa_id": label_column(reg.hsa, c["unit"]),
        "contact_date": date_column(c["contact_date"]),
        "contact_type": label_column(CONTACT_TYPES, c["ctype"]),
        "profession": label_column(PROFESSIONS, c["prof"]),
        "staff_hsa_id": label_column(reg.staff_hsa, c["staff"]),
        "status": label_column(STATUSES, c["status"]),
        "new_problem": bool_column(c["new_problem"], var.bools),
        "first_contact_date": date_column(c["first_contact_date"]),
        "patient_chose_later": bool_column(c["chose_later"], var.bools),
    })


def telephony_table(c: dict, reg: Registry, m: int, var) -> pa.Table:
    return pa.table({
        "call_id": id_column(f"T{mo.month_label(m).replace('-', '')}", c["call_id"]),
        "vardcentral_hsa_id": label_column(reg.hsa, c["unit"]),
        "called_at": timestamp_column(c["called_at"]),
        "queue": label_column(QUEUES, c["queue"]),
        "outcome": label_column(OUTCOMES, c["outcome"]),
        "callback_at": timestamp_column(c["callback_at"]),
        "in_opening_hours": bool_column(c["in_hours"], var.bools),
    })
