"""The demo region's year (SPEC §9): the synthetic months run as a region's year runs, with a
delivery bad enough to block a month, its corrected delivery, and a correction of an already
published month delivered later. At the end, where to look for each event of the year.

The runs: months 1..B with month B's visits file broken (B blocked, everything before it
published); then the whole file of B delivered again together with a corrected visits file of
month B - 1 (late registrations), and months B - 1..last run (B - 1 re-published, B published,
the rest new). Month B is the third-last month of the range.
"""
from __future__ import annotations

import shutil

from core.settings import Settings

BROKEN_SHARE = 0.01          # of the blocked month's visits lines: twice the default quarantine limit
LATE_SHARE = 0.02            # late registrations added to the corrected month's visits
MIN_MONTHS = 4               # the story needs a corrected month, a blocked month and two after it


def story_months(months: list[str]) -> tuple[str, str]:
    """(corrected month, blocked month) of a range of at least MIN_MONTHS months."""
    return months[-4], months[-3]


def run_year(settings: Settings, months: list[str], seed: int, quiet: bool, run_months) -> int:
    """Break, run, deliver the corrections, run again; return the last run's exit code."""
    from sources.synthetic.deliveries import add_late_registrations, break_lines

    corrected, blocked = story_months(months)
    visits = settings.landing_dir / blocked / "visits.csv"
    whole = settings.data_dir / "demo" / blocked / "visits.csv"   # the sender's good copy
    whole.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(visits, whole)
    n_broken = break_lines(visits, BROKEN_SHARE, seed)
    print(f"\n== {blocked}: the visits delivery has {n_broken} broken lines (limit "
          f"{settings.max_quarantine_share:.1%}); months {months[0]}..{blocked} run, {blocked} will block ==")
    run_months(months[0], blocked, quiet=quiet)

    shutil.copyfile(whole, visits)
    n_late = add_late_registrations(settings.landing_dir / corrected / "visits.csv", LATE_SHARE, seed)
    print(f"\n== {blocked}: corrected visits delivered; {corrected} (published): a corrected visits "
          f"file with {n_late} late-registered contacts; months {corrected}..{months[-1]} run ==")
    return run_months(corrected, months[-1], quiet=quiet)


def where_to_look(settings: Settings, months: list[str]) -> list[tuple[str, str]]:
    """(event, where) for every event of the demo year, naming table, month, VC and file."""
    from sources.synthetic import months as mo
    from sources.synthetic.reference import EXTRA_ASSIGNMENTS, GRANT_PROGRAMMES
    from sources.synthetic.units import (
        CAP_UNIT_NO,
        CLOSING_MONTH,
        CLOSING_UNIT_NO,
        NEW_UNIT_NO,
        TAKEOVER_MONTH,
        TAKEOVER_PROVIDER,
        TAKEOVER_UNIT_NO,
        UNITS,
        unit_hsa,
    )

    first = mo.month_index(months[0])
    pub, stm = settings.published_dir, settings.statements_dir
    name = {u[0]: u[1] for u in UNITS}

    def m(offset: int) -> str:
        return mo.month_label(min(first + offset, mo.month_index(months[-1])))

    def statement(no: int, month: str) -> str:
        return f"{stm}/{month}/ersattningsunderlag_{month}_{unit_hsa(0, no)}.xlsx"

    corrected, blocked = story_months(months)
    new_year = next((mo_ for mo_ in months if mo_.endswith("-01") and mo_ != months[0]), None)
    grant_units = ", ".join(name[n] for _, _, _, numbers in GRANT_PROGRAMMES for n in numbers[:1])
    extra = EXTRA_ASSIGNMENTS[0]
    events = [
        ("model version change (new age bands 0-5 … 80+, new goal visits_elsewhere, direction lower)",
         f"reimbursement_monthly and reimbursement_person_monthly {new_year} (capitation, goal_payment); reference/reimbursement_model.yaml; any statement of {new_year}"),
        (f"VC opens: {name[NEW_UNIT_NO]} (start grant)",
         f"reimbursement_monthly component start_grant from {m(2)}; {statement(NEW_UNIT_NO, m(2))}"),
        (f"VC closes: {name[CLOSING_UNIT_NO]} (closed_on in {m(CLOSING_MONTH)})",
         f"indicators_monthly ended_listings {m(CLOSING_MONTH)} for it and new_listings at the other "
         f"Borlänge VCs; listing_monthly {m(CLOSING_MONTH + 1)} has no one listed there; vardcentraler"),
        (f"owner change: {name[TAKEOVER_UNIT_NO]} run by {TAKEOVER_PROVIDER} from {m(TAKEOVER_MONTH)}",
         f"reimbursement_monthly vat_compensation from {m(TAKEOVER_MONTH)} (none before); "
         f"reference/vardcentraler.csv has its two rows (valid_to / valid_from); "
         f"{statement(TAKEOVER_UNIT_NO, m(TAKEOVER_MONTH))}"),
        (f"listing cap: {name[CAP_UNIT_NO]} {m(3)}..{m(8)}",
         f"indicators_monthly cap_breach_listings and listed_count {m(3)}..{m(8)}; vardcentraler (listing_cap)"),
        (f"development grants in two programmes ({', '.join(p[0] for p in GRANT_PROGRAMMES)})",
         f"reimbursement_monthly component development_grant {m(5)} ({grant_units} and the others "
         f"in reference/development_grants.csv)"),
        (f"extra assignment: {extra[1]} at {name[extra[0]]}",
         f"reimbursement_monthly component extra_assignments {m(extra[3])}..{m(extra[4])}; "
         f"reference/extra_assignments.csv"),
        (f"blocked month: {blocked} (visits with > {settings.max_quarantine_share:.1%} broken lines)",
         f"`vardval status`; data_quality_monthly {blocked}; the first run's summary (quarantine_within_limit "
         f"failed), then published after the corrected delivery; the broken copy is replaced, the "
         f"whole file kept in {settings.data_dir / 'demo' / blocked}"),
        (f"correction of a published month: {corrected} visits with late registrations",
         f"catalog.json / `vardval status`: {corrected} published v2; contacts_monthly and "
         f"reimbursement_monthly {corrected} (visit fees); published.duckdb reimbursement_adjustments "
         f"(month {corrected}) settled in the next payout (payouts, `vardval payouts`); statements {stm}/{corrected}"),
        ("women more contacts than men; relisting over the limit",
         "contacts_monthly per sex; indicators_monthly relisting_over_limit; report "
         f"{settings.reports_dir}/{months[-1]}"),
    ]
    return events


def print_where_to_look(settings: Settings, months: list[str]) -> None:
    print(f"\nThe demo year {months[0]}..{months[-1]} — where to look (published tables in "
          f"{settings.published_dir}):")
    for event, where in where_to_look(settings, months):
        print(f"- {event}\n    {where}")
