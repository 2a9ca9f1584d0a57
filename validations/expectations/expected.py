"""What a month's checks expect, read from the warehouse for that month (SPEC §9).

Nothing here is a list of its own: the fixed vocabularies and the model's components come from
`raw.vocabulary` (written from core/vocabulary.py and sources/reimbursement_model.py), the
indicator codes and kinds from `raw.indicator_catalogue` (core/indicator_catalogue.csv),
and the capitation bands from the model version valid on the month's first day
(`raw.model_versions`, `raw.model_capitation`). So a region whose model changes its bands,
or a catalogue with a new code, is checked against what it has, not against the default.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from core.months import month_bounds_iso
from core.vocabulary import band_label
from core.warehouse import table_exists


@dataclass(frozen=True)
class Expected:
    """The accepted values and bounds of one month's checks (hashable: months that expect the
    same are validated together)."""
    indicator_codes: tuple[str, ...]
    unit_interval_codes: tuple[str, ...]   # shares and means (COC): value in [0, 1]
    max_window_months: int
    indicator_professions: tuple[str, ...]
    sexes: tuple[str, ...]
    sexes_with_all: tuple[str, ...]
    professions: tuple[str, ...]
    contact_types: tuple[str, ...]
    patient_categories: tuple[str, ...]
    unit_types: tuple[str, ...]
    owner_types: tuple[str, ...]
    sources: tuple[str, ...]
    unit_bases: tuple[str, ...]
    reporting_age_bands: tuple[str, ...]
    capitation_bands: tuple[str, ...]      # of the model version valid on the month's first day
    components: tuple[str, ...]
    person_components: tuple[str, ...]
    deduction_components: tuple[str, ...]


def _values(con: duckdb.DuckDBPyConnection, vocabulary: str) -> tuple[str, ...]:
    rows = con.execute("select value from raw.vocabulary where vocabulary = ? order by sort_order",
                       [vocabulary]).fetchall()
    return tuple(r[0] for r in rows)


def capitation_bands(con: duckdb.DuckDBPyConnection, month: str) -> tuple[str, ...]:
    """The band labels of the model version valid on the month's first day (empty: none is)."""
    if not (table_exists(con, "raw", "model_versions") and table_exists(con, "raw", "model_capitation")):
        return ()
    first = month_bounds_iso(month)[0]
    rows = con.execute(f"""
        select c.age_from, c.age_to from raw.model_capitation c
        join raw.model_versions v using (version_id)
        where v.valid_from <= date '{first}' and (v.valid_to is null or v.valid_to >= date '{first}')
        order by c.age_from""").fetchall()
    return tuple(band_label(a, b) for a, b in rows)


def expected_for_month(con: duckdb.DuckDBPyConnection, month: str) -> Expected:
    catalogue = con.execute(
        "select indicator_code, value_kind, window_months, unit_basis from raw.indicator_catalogue "
        "order by sort_order").fetchall()
    return Expected(
        indicator_codes=tuple(r[0] for r in catalogue),
        unit_interval_codes=tuple(r[0] for r in catalogue if r[1] in ("share", "mean")),
        max_window_months=max((r[2] for r in catalogue if r[2] is not None), default=0),
        indicator_professions=_values(con, "indicator_profession"),
        sexes=_values(con, "sex"),
        sexes_with_all=_values(con, "sex_with_all"),
        professions=_values(con, "profession"),
        contact_types=_values(con, "contact_type"),
        patient_categories=_values(con, "patient_category"),
        unit_types=_values(con, "unit_type"),
        owner_types=_values(con, "owner_type"),
        sources=_values(con, "source"),
        unit_bases=tuple(sorted({r[3] for r in catalogue})),
        reporting_age_bands=_values(con, "reporting_age_band"),
        capitation_bands=capitation_bands(con, month),
        components=_values(con, "reimbursement_component"),
        person_components=_values(con, "person_component"),
        deduction_components=_values(con, "deduction_component"),
    )
