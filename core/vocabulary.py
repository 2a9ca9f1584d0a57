"""The fixed vocabularies of the source contract (SPEC §3) and of the published tables (§7, §10).

Defined once here, at the bottom layer, and used by the source contracts, the registry reader,
the reimbursement model, the synthetic generator and the checks; `vocabulary_rows()` is what
`raw.vocabulary` holds, so dbt's tests read the same lists from the warehouse. What a region
configures (capitation bands, components paid, units) is not here: checks take those from the
month's model version and registry rows.
"""
from __future__ import annotations

SEXES = ("female", "male")
SEXES_WITH_ALL = ("all", *SEXES)
CONTACT_TYPES = ("besok", "hembesok", "telefon", "video", "chatt")
DISTANCE_CONTACT_TYPES = ("telefon", "video", "chatt")
PROFESSIONS = ("lakare", "sjukskoterska", "fysioterapeut", "arbetsterapeut", "psykolog", "kurator",
               "dietist", "barnmorska", "fotterapeut", "ovrig")
# SPEC §5: a licensed profession is any but `ovrig`; indicators are split by these only.
LICENSED_PROFESSIONS = tuple(p for p in PROFESSIONS if p != "ovrig")
STATUSES = ("genomford", "uteblivet", "avbokad")
LISTING_TYPES = ("aktiv", "passiv")
QUEUES = ("sjukvardsradgivning", "tidsbokning", "administration", "ovrigt")
CALL_OUTCOMES = ("answered", "callback_done", "callback_no_answer", "queue_full", "abandoned")
UNIT_TYPES = ("vardcentral", "filial", "jour", "digital")
OWNER_TYPES = ("offentlig", "privat")
PATIENT_CATEGORIES = ("own_listed", "other_listed", "not_listed")
PERSON_ID_KINDS = ("personnummer", "samordningsnummer", "reserve")
SOURCES = ("listing", "visits", "telephony")
RURAL_TIERS = (0, 1, 2, 3)

# SPEC §10.1: listing_monthly's fixed reporting bands (age_from, age_to; None = open-ended),
# whatever bands the model version pays by.
REPORTING_AGE_BANDS = ((0, 6), (7, 19), (20, 39), (40, 64), (65, 74), (75, 84), (85, None))


# The components of reimbursement_monthly (SPEC §6), in the order of the table; the
# person-level ones also in reimbursement_person_monthly. Sign: +1 paid, -1 deducted.
COMPONENTS = ("capitation", "acg", "cni", "geography", "sabo", "visit_fees",
              "visits_elsewhere_deduction", "goal_payment", "start_grant", "extra_assignments",
              "development_grant", "vat_compensation")
PERSON_COMPONENTS = ("capitation", "acg", "cni", "sabo")
DEDUCTION_COMPONENTS = ("visits_elsewhere_deduction",)


def band_label(age_from: int, age_to: int | None) -> str:
    """'0-6', '85+': the label of an age band, reporting or capitation alike."""
    return f"{age_from}+" if age_to is None else f"{age_from}-{age_to}"


REPORTING_AGE_BAND_LABELS = tuple(band_label(a, b) for a, b in REPORTING_AGE_BANDS)

# name in raw.vocabulary -> values (in their order)
VOCABULARIES: dict[str, tuple] = {
    "sex": SEXES,
    "sex_with_all": SEXES_WITH_ALL,
    "contact_type": CONTACT_TYPES,
    "profession": PROFESSIONS,
    "licensed_profession": LICENSED_PROFESSIONS,
    "indicator_profession": ("all", *LICENSED_PROFESSIONS),   # indicators_monthly.profession
    "status": STATUSES,
    "listing_type": LISTING_TYPES,
    "queue": QUEUES,
    "call_outcome": CALL_OUTCOMES,
    "unit_type": UNIT_TYPES,
    "owner_type": OWNER_TYPES,
    "patient_category": PATIENT_CATEGORIES,
    "person_id_kind": PERSON_ID_KINDS,
    "source": SOURCES,
    "reporting_age_band": REPORTING_AGE_BAND_LABELS,
}


def vocabulary_rows() -> list[dict]:
    """raw.vocabulary: vocabulary, value, sort_order (1, 2, ...)."""
    return [{"vocabulary": name, "value": str(value), "sort_order": order}
            for name, values in VOCABULARIES.items()
            for order, value in enumerate(values, start=1)]


def reporting_age_band_rows() -> list[dict]:
    """raw.reporting_age_bands: age_band, age_from, age_to (null = open), sort_order."""
    return [{"age_band": band_label(a, b), "age_from": a, "age_to": b, "sort_order": order}
            for order, (a, b) in enumerate(REPORTING_AGE_BANDS, start=1)]
