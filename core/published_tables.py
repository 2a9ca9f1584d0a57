"""The published tables (SPEC §7): their names, keys and how a month selects its rows.

Shared by the checks (what they read of a month) and the publisher (what it writes), so both
take a month's rows by the very same condition.
"""
from __future__ import annotations

from core.months import month_bounds_iso

# table -> key columns (the grain of docs/architecture.md), in sort order
PUBLISHED_TABLES: dict[str, tuple[str, ...]] = {
    "indicators_monthly": ("month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"),
    "listing_monthly": ("month", "vardcentral_hsa_id", "age_band", "sex"),
    "contacts_monthly": ("month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"),
    "reimbursement_monthly": ("month", "vardcentral_hsa_id"),
    "reimbursement_person_monthly": ("month", "person_key"),
    "data_quality_monthly": ("month", "source", "source_file", "reason"),
    "vardcentraler": ("hsa_id", "valid_from"),
}
NON_MONTHLY = frozenset({"vardcentraler"})
# Columns published.duckdb adds for readers, each a function of another column: not content,
# so a month's content hash leaves them out wherever it is taken.
DERIVED_COLUMNS = frozenset({"month_start", "age_band_order", "capitation_band_order"})
MARTS_SCHEMA = "marts"


def registry_month_filter(month: str) -> str:
    """SQL condition on marts.vardcentraler: the units open at some time during the month, each
    with its row valid on the month's last day (SPEC §3.5; valid_from/valid_to null = open)."""
    first, last = month_bounds_iso(month)
    return (f"(valid_from is null or cast(valid_from as date) <= date '{last}') and "
            f"(valid_to is null or cast(valid_to as date) >= date '{last}') and "
            f"cast(opened_on as date) <= date '{last}' and "
            f"(closed_on is null or cast(closed_on as date) >= date '{first}')")
