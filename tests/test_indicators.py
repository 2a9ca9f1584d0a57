"""Every SPEC §5 indicator on a small hand-made region, checked against hand calculation.

Region (raw.vardcentraler):
  VC1   vardcentral, listing cap period 2025-03-01..2025-03-31
  VC1F  filial of VC1 (its production counts for VC1)
  VC2   vardcentral
  VC3   vardcentral opened 2025-02-15 (rows from February)
  VC4   vardcentral closed 2025-01-31 (rows December, January only)
  JOUR  jour unit (no rows of its own)

Listing snapshots 2024-12..2025-03 (P = person):
  P1 female 1990-05-10  VC1 every month, aktiv since 2020, named GP DOC1
  P2 male   1940-02-29  VC1 every month, passiv, SÄBO, named GP DOC1
  P3 female 2020-01-01  Dec VC2 -> Jan VC1 -> Feb VC2 -> Mar VC1, aktiv, listed_from in the month
  P4 male   1980-07-01  VC2 Dec..Feb (passiv), gone in March
Contacts in 2025-01..2025-03 (see VISITS), calls in March (see CALLS).
One dbt build over 2024-12..2025-03 (min_cell = 2), then March rebuilt alone: 2 dbt runs.
"""
from __future__ import annotations

import math

import pytest

from tests.warehouse_fixture import FixtureWarehouse

MIN_CELL = 2


def unit(hsa_id, unit_type, parent=None, opened="2020-01-01", closed=None, cap_from=None, cap_to=None):
    return dict(hsa_id=hsa_id, name=hsa_id, unit_type=unit_type, parent_hsa_id=parent, owner_type="offentlig",
                opened_on=opened, closed_on=closed, rural_tier=0, listing_cap=1000 if cap_from else None,
                cap_from=cap_from, cap_to=cap_to)


UNITS = [
    unit("VC1", "vardcentral", cap_from="2025-03-01", cap_to="2025-03-31"),
    unit("VC1F", "filial", parent="VC1"),
    unit("VC2", "vardcentral"),
    unit("VC3", "vardcentral", opened="2025-02-15"),
    unit("VC4", "vardcentral", closed="2025-01-31"),
    unit("JOUR", "jour"),
]

PERSONS = {  # person_key: (sex, birth_date)
    "P1": ("female", "1990-05-10"), "P2": ("male", "1940-02-29"),
    "P3": ("female", "2020-01-01"), "P4": ("male", "1980-07-01"),
}


def listing(month, person, vc, listed_from, listing_type, fast_lakare=None, sabo=False):
    sex, birth = PERSONS[person]
    return dict(month=month, person_key=person, sex=sex, birth_date=birth, vardcentral_hsa_id=vc,
                listed_from=listed_from, listing_type=listing_type, fast_lakare_hsa_id=fast_lakare,
                is_sabo=sabo, source_file="listing.csv", source_line=2)


LISTING = []
for m in ("2024-12", "2025-01", "2025-02", "2025-03"):
    LISTING.append(listing(m, "P1", "VC1", "2020-01-01", "aktiv", fast_lakare="DOC1"))
    LISTING.append(listing(m, "P2", "VC1", "2015-06-01", "passiv", fast_lakare="DOC1", sabo=True))
LISTING += [
    listing("2024-12", "P3", "VC2", "2024-12-01", "aktiv"),
    listing("2025-01", "P3", "VC1", "2025-01-15", "aktiv"),
    listing("2025-02", "P3", "VC2", "2025-02-10", "aktiv"),
    listing("2025-03", "P3", "VC1", "2025-03-05", "aktiv"),
    listing("2024-12", "P4", "VC2", "2010-01-01", "passiv"),
    listing("2025-01", "P4", "VC2", "2010-01-01", "passiv"),
    listing("2025-02", "P4", "VC2", "2010-01-01", "passiv"),
]


def visit(cid, person, vc, date, ctype, prof, staff, status="genomford", new=False, first=None, later=False):
    sex, birth = PERSONS.get(person, (None, None))
    return dict(month=date[:7], contact_id=cid, person_key=person,
                person_id_kind="reserve" if person.startswith("R") else "personnummer", sex=sex,
                birth_date=birth, vardcentral_hsa_id=vc, contact_date=date, contact_type=ctype, profession=prof,
                staff_hsa_id=staff, status=status, is_new_problem=new, first_contact_date=first,
                is_patient_chose_later=later, source_file="visits.csv", source_line=2)


VISITS = [
    # January
    visit("c30", "P1", "VC1", "2025-01-15", "besok", "lakare", "DOC1"),
    visit("c31", "P2", "VC1", "2025-01-20", "hembesok", "lakare", "DOC2"),
    # February
    visit("c20", "P1", "VC1", "2025-02-25", "besok", "sjukskoterska", "NURSE1", new=True, first="2025-02-20"),
    visit("c21", "P2", "VC1", "2025-02-10", "hembesok", "lakare", "DOC1"),
    visit("c22", "P3", "VC1", "2025-02-11", "besok", "lakare", "DOC1"),
    # March
    visit("c1", "P1", "VC1", "2025-03-03", "besok", "lakare", "DOC1", new=True, first="2025-03-01"),
    visit("c2", "P1", "VC1F", "2025-03-10", "besok", "lakare", "DOC1"),
    visit("c3", "P1", "JOUR", "2025-03-12", "besok", "lakare", "JDOC"),
    visit("c4", "P1", "VC2", "2025-03-15", "telefon", "sjukskoterska", "NURSE2"),
    visit("c5", "P1", "VC1", "2025-03-20", "video", "lakare", "DOC2"),
    visit("c6", "P1", "VC1", "2025-03-21", "besok", "lakare", "DOC1", status="uteblivet"),
    visit("c7", "R1", "VC1", "2025-03-25", "chatt", "sjukskoterska", None, new=True, first="2025-03-20"),
    visit("c8", "P2", "VC1", "2025-03-05", "hembesok", "lakare", "DOC1", new=True, first="2025-03-05"),
    visit("c9", "P2", "VC1", "2025-03-19", "hembesok", "lakare", "DOC1"),
    visit("c10", "P3", "VC2", "2025-03-09", "besok", "fysioterapeut", "FYS1", new=True, first="2025-03-01"),
    visit("c11", "P3", "VC2", "2025-03-09", "besok", "sjukskoterska", "NURSE2", new=True, first="2025-03-01"),
    visit("c12", "P4", "VC2", "2025-03-12", "besok", "lakare", "DOC9"),
    # same problem as c20 (February): not a first assessment
    visit("c13", "P1", "VC1F", "2025-03-02", "besok", "lakare", "DOC1", new=True, first="2025-02-20"),
    # the patient chose a later time: never a first assessment (it would beat c1 otherwise)
    visit("c15", "P1", "VC1", "2025-03-01", "telefon", "lakare", None, new=True, first="2025-03-01", later=True),
]


def call(cid, vc, called_at, queue, outcome, callback_at=None, in_hours=True):
    return dict(month="2025-03", call_id=cid, vardcentral_hsa_id=vc, called_at=called_at, queue=queue,
                outcome=outcome, callback_at=callback_at, is_in_opening_hours=in_hours,
                source_file="telephony.csv", source_line=2)


CALLS = [
    call("t1", "VC1", "2025-03-03 09:00", "tidsbokning", "answered"),                                 # handled
    call("t2", "VC1F", "2025-03-03 10:00", "sjukvardsradgivning", "callback_done", "2025-03-03 15:00"),  # handled
    call("t3", "VC1", "2025-03-04 16:00", "tidsbokning", "callback_no_answer", "2025-03-04 17:00"),   # handled
    call("t4", "VC1", "2025-03-05 17:00", "tidsbokning", "callback_done", "2025-03-06 08:00"),        # next day
    call("t5", "VC1", "2025-03-05 10:00", "tidsbokning", "queue_full"),
    call("t6", "VC1", "2025-03-05 11:00", "administration", "answered"),                             # not counted
    call("t7", "VC1", "2025-03-05 12:00", "tidsbokning", "answered", in_hours=False),                # not counted
    call("t8", "VC1", "2025-03-06 10:00", "sjukvardsradgivning", "abandoned"),
]


def build_tables(wh):
    return {
        "ind": wh.query("select * from marts.indicators_monthly"),
        "lm": wh.query("select * from marts.listing_monthly"),
        "cm": wh.query("select * from marts.contacts_monthly"),
        "dq": wh.query("select * from marts.data_quality_monthly"),
        "vc": wh.query("select * from marts.vardcentraler"),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    wh = FixtureWarehouse(tmp_path_factory.mktemp("indicators"))
    wh.insert("vardcentraler", UNITS)
    wh.insert("listing", LISTING)
    wh.insert("visits", VISITS)
    wh.insert("telephony", CALLS)
    wh.insert("source_files", [
        dict(month="2025-03", source="visits", source_file="visits.csv", sha256="abc", size_bytes=10,
             file_format="csv", rows_read=21, rows_accepted=19, rows_quarantined=2, ingest_fingerprint="x", ingested_at="2025-04-01"),
        dict(month="2025-03", source="listing", source_file="listing.csv", sha256="def", size_bytes=10,
             file_format="csv", rows_read=3, rows_accepted=3, rows_quarantined=0, ingest_fingerprint="x", ingested_at="2025-04-01"),
    ])
    wh.insert("quarantine", [
        dict(month="2025-03", source="visits", source_file="visits.csv", source_line=5, reason="invalid_personnummer"),
        dict(month="2025-03", source="visits", source_file="visits.csv", source_line=9, reason="unknown_unit"),
    ])
    selection = ["--select", "+path:models/marts/indicators", "+path:models/marts/quality"]
    wh.dbt("build", *selection, month_from="2024-12", month_to="2025-03", extra_vars={"min_cell": MIN_CELL})
    first = build_tables(wh)
    # March alone again: the windowed models must find their earlier months in raw.* and the
    # incremental marts must replace March only.
    wh.dbt("run", *selection, month_from="2025-03", extra_vars={"min_cell": MIN_CELL})
    second = build_tables(wh)
    return first, second


@pytest.fixture(scope="module")
def ind(built):
    frame = built[0]["ind"]

    def get(month, vc, code, sex="all", profession="all"):
        rows = frame[(frame.month == month) & (frame.vardcentral_hsa_id == vc) & (frame.indicator_code == code)
                     & (frame.sex == sex) & (frame.profession == profession)]
        assert len(rows) == 1, (month, vc, code, sex, profession, len(rows))
        return rows.iloc[0].to_dict()
    return get


def is_null(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def check(row, numerator, denominator, value=None, suppressed=None):
    if numerator is None:
        assert is_null(row["numerator"]), row
    else:
        assert row["numerator"] == pytest.approx(numerator), row
    if denominator is None:
        assert is_null(row["denominator"]), row
    else:
        assert row["denominator"] == denominator, row
    if value is None:
        expected = numerator if denominator is None else (numerator / denominator if denominator else None)
    else:
        expected = value
    if expected is None:
        assert is_null(row["value"]), row
    else:
        assert row["value"] == pytest.approx(expected, abs=1e-9), row
    if suppressed is not None:
        assert bool(row["is_suppressed"]) is suppressed, row


def test_rows_for_every_open_vc_code_sex_and_profession(built):
    ind = built[0]["ind"]
    vcs = ind.groupby("month").vardcentral_hsa_id.apply(lambda s: sorted(set(s))).to_dict()
    assert vcs == {"2024-12": ["REGION", "VC1", "VC2", "VC4"], "2025-01": ["REGION", "VC1", "VC2", "VC4"],
                   "2025-02": ["REGION", "VC1", "VC2", "VC3"], "2025-03": ["REGION", "VC1", "VC2", "VC3"]}
    # per VC and month: 16 non-assessment codes x 3 sexes + phone x 1 + 3 assessment codes x 3 sexes x 10
    per_vc = ind.groupby(["month", "vardcentral_hsa_id"]).size()
    assert set(per_vc) == {16 * 3 + 1 + 3 * 3 * 10}
    assert not ind.duplicated(["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]).any()
    assert set(ind.indicator_code) == {
        "listed_count", "new_listings", "ended_listings", "relisting_over_limit", "cap_breach_listings",
        "fast_lakare_share", "fast_lakare_share_sabo", "distance_contact_share", "video_contact_share",
        "visits_elsewhere", "coverage_ratio", "assessment_0d_share", "assessment_3d_share",
        "assessment_7d_share", "phone_same_day_share", "continuity_doctor", "continuity_all",
        "continuity_doctor_sabo", "continuity_all_sabo", "listed_per_named_gp"}


def test_listing_counts(ind):
    # March VC1: P1 (f), P2 (m), P3 (f). min_cell 2: a count of 1 is suppressed, 0 and 2 are not.
    check(ind("2025-03", "VC1", "listed_count"), 3, None, suppressed=False)
    check(ind("2025-03", "VC1", "listed_count", "female"), 2, None, suppressed=False)
    check(ind("2025-03", "VC1", "listed_count", "male"), 1, None, suppressed=True)
    check(ind("2025-03", "VC2", "listed_count"), 0, None, suppressed=False)
    check(ind("2025-03", "VC3", "listed_count"), 0, None)
    assert ind("2025-03", "VC1", "listed_count")["unit_basis"] == "listing"
    assert is_null(ind("2025-03", "VC1", "listed_count")["window_months"])
    # new: P3 listed_from 2025-03-05; P1, P2 listed years ago
    check(ind("2025-03", "VC1", "new_listings"), 1, None, suppressed=True)
    check(ind("2025-03", "VC1", "new_listings", "male"), 0, None, suppressed=False)
    # cap breach: P3 aktiv, new, 2025-03-05 within VC1's cap 2025-03-01..31; in January outside the period
    check(ind("2025-03", "VC1", "cap_breach_listings"), 1, None)
    check(ind("2025-01", "VC1", "new_listings"), 1, None)
    check(ind("2025-01", "VC1", "cap_breach_listings"), 0, None)
    check(ind("2025-03", "REGION", "listed_count"), 3, None)


def test_ended_listings(ind):
    # December: no November snapshot -> null, not suppressed, window 1 month of 2
    row = ind("2024-12", "VC2", "ended_listings")
    check(row, None, None, suppressed=False)
    assert row["window_months"] == 1
    check(ind("2024-12", "REGION", "ended_listings"), None, None)
    # January: P3 left VC2 (for VC1)
    check(ind("2025-01", "VC2", "ended_listings"), 1, None)
    check(ind("2025-01", "VC1", "ended_listings"), 0, None)
    # February: P3 left VC1
    check(ind("2025-02", "VC1", "ended_listings", "female"), 1, None)
    # March: P3 (f, to VC1) and P4 (m, gone) left VC2
    row = ind("2025-03", "VC2", "ended_listings")
    check(row, 2, None, suppressed=False)
    assert row["window_months"] == 2
    check(ind("2025-03", "VC2", "ended_listings", "female"), 1, None)
    check(ind("2025-03", "VC2", "ended_listings", "male"), 1, None)
    check(ind("2025-03", "REGION", "ended_listings"), 2, None)


def test_relisting_over_limit(ind):
    # P3 aktiv changes: Dec->Jan, Jan->Feb, Feb->Mar: 3 > 2 in March (at VC1), 2 in February (not over)
    row = ind("2025-03", "VC1", "relisting_over_limit", "female")
    check(row, 1, None)
    assert row["window_months"] == 3       # change months Jan, Feb, Mar have both snapshots
    check(ind("2025-02", "VC2", "relisting_over_limit"), 0, None)
    assert ind("2025-02", "VC2", "relisting_over_limit")["window_months"] == 2
    assert ind("2024-12", "VC1", "relisting_over_limit")["window_months"] == 0


def test_fast_lakare_shares(ind):
    # VC1 March: P1 yes, P2 yes, P3 no
    check(ind("2025-03", "VC1", "fast_lakare_share"), 2, 3, suppressed=False)
    check(ind("2025-03", "VC1", "fast_lakare_share", "female"), 1, 2)
    check(ind("2025-03", "VC1", "fast_lakare_share", "male"), 1, 1, suppressed=True)
    # SÄBO: P2 only
    check(ind("2025-03", "VC1", "fast_lakare_share_sabo"), 1, 1)
    check(ind("2025-03", "VC1", "fast_lakare_share_sabo", "female"), 0, 0, suppressed=True)
    check(ind("2025-03", "VC2", "fast_lakare_share"), 0, 0)


def test_contact_type_shares(ind):
    # VC1 March performed (filial VC1F included, c6 not completed): c1 c2 c5 c7 c8 c9 c13 c15 = 8;
    # distance c5 (video) c7 (chatt, reserve number) c15 (telefon) = 3; female (P1) 2 of 5; male (P2) 0 of 2
    check(ind("2025-03", "VC1", "distance_contact_share"), 3, 8)
    check(ind("2025-03", "VC1", "distance_contact_share", "female"), 2, 5)
    check(ind("2025-03", "VC1", "distance_contact_share", "male"), 0, 2)
    check(ind("2025-03", "VC1", "video_contact_share"), 1, 8)
    assert ind("2025-03", "VC1", "video_contact_share")["unit_basis"] == "performing"
    # VC2: c4 (telefon) c10 c11 c12 -> 1/4; JOUR's c3 is nobody's performing row
    check(ind("2025-03", "VC2", "distance_contact_share"), 1, 4)
    # region = VC1 + VC2 + VC3
    check(ind("2025-03", "REGION", "distance_contact_share"), 4, 12)


def test_visits_elsewhere(ind):
    # besok contacts in March of persons listed at VC1 at the end of March:
    # P1 c1 (VC1), c2 (filial), c13 (filial), c3 (jour: elsewhere); P3 c10, c11 (VC2: elsewhere) -> 3/6
    check(ind("2025-03", "VC1", "visits_elsewhere"), 3, 6)
    check(ind("2025-03", "VC1", "visits_elsewhere", "male"), 0, 0)
    # February: P3 listed at VC2 visited VC1 (c22) -> VC2 1/1
    check(ind("2025-02", "VC2", "visits_elsewhere"), 1, 1)


def test_coverage_ratio(ind):
    # Persons listed at VC1 at the end of March, all completed contacts Oct..Mar (data Jan..Mar):
    # P1: c30 c20 c1 c2 c5 c13 c15 here, c3 (jour) c4 (VC2) elsewhere -> 7/9
    # P2: c31 c21 c8 c9 -> 4/4
    # P3: c22 (VC1 in Feb, while listed at VC2: the end-of-M listing counts) here, c10 c11 at VC2 -> 1/3
    row = ind("2025-03", "VC1", "coverage_ratio")
    check(row, 12, 16)
    assert row["window_months"] == 3
    check(ind("2025-03", "VC1", "coverage_ratio", "female"), 8, 12)
    check(ind("2025-03", "VC1", "coverage_ratio", "male"), 4, 4)
    assert ind("2024-12", "VC1", "coverage_ratio")["window_months"] == 0


def test_first_assessment(ind):
    # VC1 March first assessments: c1 (P1 f, lakare, wait 2), c7 (reserve, sjukskoterska, 5), c8 (P2 m, lakare, 0).
    # c13 is not first (c20 in February, same person/VC/first_contact_date); c15 patient chose later.
    check(ind("2025-03", "VC1", "assessment_0d_share"), 1, 3)
    check(ind("2025-03", "VC1", "assessment_3d_share"), 2, 3)
    check(ind("2025-03", "VC1", "assessment_7d_share"), 3, 3)
    check(ind("2025-03", "VC1", "assessment_3d_share", "female"), 1, 1)
    check(ind("2025-03", "VC1", "assessment_0d_share", "male"), 1, 1)
    check(ind("2025-03", "VC1", "assessment_3d_share", "all", "lakare"), 2, 2)
    check(ind("2025-03", "VC1", "assessment_3d_share", "all", "sjukskoterska"), 0, 1)
    check(ind("2025-03", "VC1", "assessment_7d_share", "all", "sjukskoterska"), 1, 1)
    check(ind("2025-03", "VC1", "assessment_7d_share", "female", "sjukskoterska"), 0, 0)  # c7 has no sex
    check(ind("2025-03", "VC1", "assessment_3d_share", "all", "fysioterapeut"), 0, 0)
    # VC2: c10 and c11 tie (same person, VC, first_contact_date, date): lowest contact_id c10 (fysio, 8 days)
    check(ind("2025-03", "VC2", "assessment_7d_share", "all", "fysioterapeut"), 0, 1)
    check(ind("2025-03", "VC2", "assessment_7d_share", "all", "sjukskoterska"), 0, 0)
    # February: c20 (5 days)
    check(ind("2025-02", "VC1", "assessment_3d_share"), 0, 1)
    check(ind("2025-02", "VC1", "assessment_7d_share"), 1, 1)
    check(ind("2025-03", "REGION", "assessment_3d_share"), 2, 4)


def test_phone_same_day(ind):
    # VC1 (filial call t2 included): counted t1 t2 t3 t4 t5 t8 = 6; same day t1 t2 t3 = 3
    row = ind("2025-03", "VC1", "phone_same_day_share")
    check(row, 3, 6, suppressed=False)
    assert row["unit_basis"] == "performing"
    check(ind("2025-03", "VC2", "phone_same_day_share"), 0, 0, suppressed=True)
    check(ind("2025-03", "REGION", "phone_same_day_share"), 3, 6)


def test_continuity(ind):
    # Qualifying contacts (besok/hembesok/video, known staff) Jan..Mar, any unit:
    # P1 all: DOC1 x4 (c30 c1 c2 c13), NURSE1, JDOC, DOC2 -> N 7, Σn² 19 -> 12/42
    #    doctors: DOC1 x4, JDOC, DOC2 -> N 6, Σn² 18 -> 12/30 = 0.4
    # P2: DOC2, DOC1 x3 -> (10-4)/12 = 0.5 (both)
    # P3 all: DOC1, FYS1, NURSE2 -> 0; doctors: N 1 -> not counted
    p1_all = 12 / 42
    row = ind("2025-03", "VC1", "continuity_all")
    check(row, p1_all + 0.5 + 0, 3, suppressed=False)
    assert row["window_months"] == 3
    check(ind("2025-03", "VC1", "continuity_all", "female"), p1_all, 2)
    check(ind("2025-03", "VC1", "continuity_doctor"), 0.9, 2)
    check(ind("2025-03", "VC1", "continuity_doctor", "male"), 0.5, 1, suppressed=True)
    check(ind("2025-03", "VC1", "continuity_doctor_sabo"), 0.5, 1)
    check(ind("2025-03", "VC1", "continuity_doctor_sabo", "female"), 0, 0)
    # all professions, SÄBO residents: P2 only (DOC2, DOC1 x3) -> 0.5; P1 and P3 are not in SÄBO
    check(ind("2025-03", "VC1", "continuity_all_sabo"), 0.5, 1, suppressed=True)
    check(ind("2025-03", "VC1", "continuity_all_sabo", "male"), 0.5, 1)
    check(ind("2025-03", "VC1", "continuity_all_sabo", "female"), 0, 0)
    check(ind("2025-03", "REGION", "continuity_all_sabo"), 0.5, 1)
    check(ind("2025-03", "REGION", "continuity_all"), p1_all + 0.5, 3)


def test_listing_monthly(built):
    lm = built[0]["lm"].set_index(["month", "vardcentral_hsa_id", "age_band", "sex"])
    # P2 born 1940-02-29: on 2025-02-28 still 84 (birthday on 1 March), on 2025-03-31 85
    assert lm.loc[("2025-02", "VC1", "75-84", "male"), "listed_count"] == 1
    assert lm.loc[("2025-03", "VC1", "85+", "male"), ["listed_count", "passiv_count", "sabo_count",
                                                      "fast_lakare_count"]].tolist() == [1, 1, 1, 1]
    assert lm.loc[("2025-03", "VC1", "0-6", "female"), ["listed_count", "aktiv_count", "new_listings"]].tolist() == [1, 1, 1]
    assert lm.loc[("2025-03", "VC1", "20-39", "female"), "listed_count"] == 1
    assert lm.loc["2025-03"].listed_count.sum() == 3


def test_contacts_monthly(built):
    cm = built[0]["cm"].set_index(["month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"])
    assert cm.loc[("2025-03", "VC1", "besok", "lakare", "own_listed"), "contact_count"] == 3   # c1 c2 c13
    assert cm.loc[("2025-03", "VC1", "chatt", "sjukskoterska", "not_listed"), "contact_count"] == 1  # c7
    assert cm.loc[("2025-03", "VC2", "besok", "fysioterapeut", "other_listed"), "contact_count"] == 1  # c10
    assert cm.loc[("2025-03", "VC2", "besok", "lakare", "not_listed"), "contact_count"] == 1  # c12, P4 gone
    row = cm.loc[("2025-03", "JOUR", "besok", "lakare", "other_listed")]
    assert (row.contact_count, row.unit_type) == (1, "jour")
    assert cm.loc["2025-03"].contact_count.sum() == 13   # 14 March contacts, c6 not completed


def test_data_quality_and_registry(built):
    dq = built[0]["dq"]
    visits = dq[dq.source == "visits"].set_index("reason")
    assert visits.loc["unknown_unit", "reason_rows"] == 1 and visits.loc["unknown_unit", "rows_read"] == 21
    listing_row = dq[dq.source == "listing"].iloc[0]
    assert is_null(listing_row.reason) and listing_row.reason_rows == 0
    assert set(built[0]["vc"].hsa_id) == {"VC1", "VC1F", "VC2", "VC3", "VC4", "JOUR"}


def test_rebuilding_a_month_alone_gives_the_same_rows(built):
    first, second = built
    keys = ["month", "vardcentral_hsa_id", "indicator_code", "sex", "profession"]
    a = first["ind"].sort_values(keys).reset_index(drop=True)
    b = second["ind"].sort_values(keys).reset_index(drop=True)
    assert len(a) == len(b)
    assert a.equals(b) or a.fillna(-1).round(12).equals(b.fillna(-1).round(12))
    for table, key in (("lm", ["month", "vardcentral_hsa_id", "age_band", "sex"]),
                       ("cm", ["month", "vardcentral_hsa_id", "contact_type", "profession", "patient_category"])):
        assert first[table].sort_values(key).reset_index(drop=True).equals(
            second[table].sort_values(key).reset_index(drop=True))


def test_listed_per_named_gp(ind):
    # March VC1: P1 (f) and P2 (m) both name DOC1, P3 names none -> 2 listed / 1 distinct GP = 2.0.
    # Per sex each has its own distinct GPs (1 and 1), so `all` is not the sum of the sexes' rows.
    # A ratio is never suppressed, although its denominator 1 is below min_cell 2.
    check(ind("2025-03", "VC1", "listed_per_named_gp"), 2, 1, value=2.0, suppressed=False)
    check(ind("2025-03", "VC1", "listed_per_named_gp", "female"), 1, 1, suppressed=False)
    check(ind("2025-03", "VC1", "listed_per_named_gp", "male"), 1, 1, suppressed=False)
    # VC2 in December: P3 and P4 without a named GP -> 0 / 0, value null, not suppressed
    check(ind("2024-12", "VC2", "listed_per_named_gp"), 0, 0, suppressed=False)
    # REGION sums the VC rows: (2 + 0 + 0) / (1 + 0 + 0)
    check(ind("2025-03", "REGION", "listed_per_named_gp"), 2, 1, value=2.0, suppressed=False)

