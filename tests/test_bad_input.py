"""SPEC §8 at ingestion: every bad input, one fault injected into a real month of the synthetic region.

Each test copies the landing folder and the warehouse of the `published_region` (two months,
already ingested and published), breaks one thing in 2025-02 and runs the real ingestion
(`ingest_month` / `load_reference`, the functions the Dagster assets call). It then checks
the message (file, line, column), what was quarantined or blocked at the gate
(`validations.deliveries`, the source half of the publication gate) and that nothing already
accepted was lost. The whole-run consequences (exit status, previous version byte-identical)
are proven once for a batch of faults by `tests/test_bad_input_runs.py`.

Unit-level variants of the same rules (hand-made files) are in test_readers.py,
test_contracts.py and test_reimbursement_model.py; these tests prove them on real deliveries
through the ledger and the gate.
"""
from __future__ import annotations

import re
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings
from orchestration.defs.sources import ingestion
from orchestration.defs.sources.ingestion import ingest_month, load_reference
from sources.pseudonym import KEY_ENV
from sources.reading import SourceFileError
from sources.reimbursement_model import ModelValidationError
from tests.delivery_edits import Delivery, valid_personnummer, with_bad_check_digit
from tests.pii_scan import personnummer_hits
from validations.deliveries import delivery_outcomes

MONTH, PREVIOUS = "2025-02", "2025-01"
UNKNOWN_UNIT = "SE2321000180-E000000000999"
NOT_YET_OPEN = "SE2321000180-E000000000107"    # opens 2025-03-01 in the synthetic registry
FILIAL = "SE2321000180-E000000000121"
CLOSED_UNIT = "SE2321000180-E000000000198"     # added by the closed-unit test, closed 2025-01-31


@dataclass
class Landed:
    """A copy of an ingested region: its landing folder and warehouse, and the settings for them."""
    settings: Settings

    def delivery(self, source: str, month: str = MONTH) -> Delivery:
        return Delivery.load(self.settings.landing_dir / month / f"{source}.csv")

    def ingest(self, month: str = MONTH) -> dict:
        return {o.source: o for o in ingest_month(self.settings, month)}

    def sql(self, query: str, *params) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            return con.execute(query, list(params)).fetchall()

    def count(self, table: str, month: str = MONTH) -> int:
        return self.sql(f"select count(*) from raw.{table} where month = ?", month)[0][0]

    def quarantine(self, source: str, month: str = MONTH) -> list[tuple]:
        """(file, line, column, reason, masked value) of the month's quarantined rows of a source."""
        return self.sql("select source_file, source_line, column_name, reason, masked_value from raw.quarantine "
                        "where month = ? and source = ? order by source_line, column_name", month, source)

    def gate(self, month: str = MONTH) -> dict:
        outcomes = delivery_outcomes(self.settings.warehouse_path, month, self.settings.max_quarantine_share)
        return {o.name: o for o in outcomes}

    def snapshot(self, month: str = MONTH) -> dict:
        """The month's accepted rows and ledger entry per source (what must not be lost)."""
        return {table: self.sql(f"select * exclude (source_file) from raw.{table} where month = ? order by all",
                                month)
                for table in ("listing", "visits", "telephony")} | {
            "source_files": self.sql("select * from raw.source_files where month = ? order by source", month)}


@pytest.fixture
def landed(published_region, tmp_path, monkeypatch) -> Landed:
    root = tmp_path / "region"
    shutil.copytree(published_region.landing, root / "landing")
    (root / "data").mkdir(parents=True)
    for path in published_region.data.glob("warehouse.duckdb*"):
        shutil.copy2(path, root / "data" / path.name)
    monkeypatch.setenv(KEY_ENV, published_region.env()[KEY_ENV])
    settings = Settings(landing_dir=root / "landing", data_dir=root / "data", min_cell=20,
                        max_quarantine_share=0.005, first_month="2024-01")
    return Landed(settings)


def _no_personnummer(*texts) -> None:
    hits = [h for t in texts for h in personnummer_hits(str(t))]
    assert hits == [], f"personnummer in a message or quarantine row: {hits}"


# --- file-level faults: the month is blocked, its accepted rows stay ------------------------

def _drop_column(name):
    def edit(d: Delivery):
        i = d.col(name)
        d.header.pop(i)
        for row in d.rows:
            row.pop(i)
        d.save()
    return edit


def _rename_column(old, new):
    def edit(d: Delivery):
        d.header[d.col(old)] = new
        d.save()
    return edit


def _add_column(name, value):
    def edit(d: Delivery):
        d.header.append(name)
        for row in d.rows:
            row.append(value)
        d.save()
    return edit


def _truncate_header(d: Delivery):
    d.rows.clear()
    d.save()


FILE_FAULTS = {
    # id: (source, edit, patterns the message must match)
    "missing file": ("visits", lambda d: d.path.unlink(),
                     [r"missing file: expected \S*/2025-02/visits\.csv"]),
    "missing listing (csv or xlsx)": ("listing", lambda d: d.path.unlink(),
                                      [r"missing file: expected \S*/2025-02/listing\.csv or \S*/listing\.xlsx"]),
    "empty file": ("telephony", lambda d: d.path.write_bytes(b""),
                   [r"^telephony\.csv: empty file \(0 bytes\)$"]),
    "blank file": ("visits", lambda d: d.path.write_bytes(b"\n\r\n  \n"),
                   [r"^visits\.csv: empty file \(only blank space\)$"]),
    "header only": ("telephony", _truncate_header, [r"^telephony\.csv: header only, no data rows$"]),
    "missing column": ("listing", _drop_column("listing_type"),
                       [r"^listing\.csv: missing required column 'listing_type' \(line 1\)"]),
    "renamed column": ("visits", _rename_column("contact_date", "kontaktdatum"),
                       [r"^visits\.csv: missing required column 'contact_date' \(line 1\)",
                        r"columns found: .*'kontaktdatum'"]),
    "column twice": ("telephony", _add_column("CALL_ID", "T1"),
                     [r"^telephony\.csv: column 'call_id' appears more than once in the header \(line 1"]),
    "tab separated": ("telephony", lambda d: d.save(sep="\t"),
                      [r"^telephony\.csv: line 1: cannot detect the separator.*tab-separated"]),
    "utf-16": ("telephony", lambda d: d.save(encoding="utf-16"),
               [r"^telephony\.csv: the file is UTF-16 \(byte-order mark FF FE\); save it as CSV in "
                r"UTF-8 or Windows-1252$"]),
}


@pytest.mark.parametrize("fault", list(FILE_FAULTS))
def test_file_fault_blocks_the_month_and_loses_nothing(landed, fault):
    source, edit, patterns = FILE_FAULTS[fault]
    before = landed.snapshot()
    delivery = landed.delivery(source)
    original = delivery.path.read_bytes()
    edit(delivery)

    outcome = landed.ingest()[source]
    assert outcome.status == "file_error"
    for pattern in patterns:
        pattern = pattern.replace("{next_line}", str(len(delivery.rows) + 2))
        assert re.search(pattern, outcome.message, re.M), outcome.message
    _no_personnummer(outcome.message)
    # recorded in the ledger; the gate blocks the month naming the file and the problem
    assert landed.sql("select message from raw.ingest_errors where month = ? and source = ?",
                      MONTH, source) == [(outcome.message,)]
    readable = landed.gate()["deliveries_readable"]
    assert not readable.passed and readable.blocking
    assert outcome.message in readable.description
    # the month's previously accepted rows (all three sources) are untouched
    assert landed.snapshot() == before
    # a good delivery clears the error and the month may pass again
    delivery.path.write_bytes(original)
    assert landed.ingest()[source].status == "reingested"
    assert landed.sql("select count(*) from raw.ingest_errors where month = ?", MONTH) == [(0,)]
    assert landed.gate()["deliveries_readable"].passed
    assert landed.snapshot()["listing"] == before["listing"]


def test_semicolon_and_windows_1252_files_are_read_like_the_originals(landed):
    """Wrong separator or encoding for the reader's defaults must still work (§3.1)."""
    before = landed.snapshot()
    for source in ("listing", "visits", "telephony"):
        delivery = landed.delivery(source)
        delivery.header.append("Kommentar")                 # an extra column, non-ASCII values
        for row in delivery.rows:
            row.append("Vårdcentral Åkersberga, ö")
        delivery.save(sep=";", encoding="cp1252")
    outcomes = landed.ingest()
    assert {o.status for o in outcomes.values()} == {"correction"}
    assert all(o.rows_quarantined == 0 for o in outcomes.values())
    formats = landed.sql("select source, encoding, separator, extra_columns from raw.source_files "
                         "where month = ? order by source", MONTH)
    assert formats == [("listing", "cp1252", ";", "Kommentar"), ("telephony", "cp1252", ";", "Kommentar"),
                       ("visits", "cp1252", ";", "Kommentar")]
    after = landed.snapshot()
    for table in ("listing", "visits", "telephony"):
        assert after[table] == before[table], f"{table}: rows differ after re-encoding"
    assert landed.gate()["deliveries_readable"].passed


# --- row-level faults: quarantined with file, line, column and reason ------------------------

def _listing_pnr_bad_check(d):
    line = d.set(10, "personnummer", with_bad_check_digit(d.get(10, "personnummer")))
    return [(line, "personnummer", "invalid personnummer: invalid check digit", d.get(10, "personnummer")[:8] + "-****")]


def _listing_pnr_impossible_date(d):
    value = d.get(11, "personnummer").replace("-", "")
    line = d.set(11, "personnummer", "19900230-" + value[8:])
    return [(line, "personnummer", "invalid personnummer: impossible birth date", "19900230-****")]


def _listing_duplicate_person(d):
    twin = list(d.rows[5])
    twin[d.col("vardcentral_hsa_id")] = "SE2321000180-E000000000101"
    twin[d.col("personnummer")] = twin[d.col("personnummer")].replace("-", "")   # same person, other form
    d.rows.append(twin)
    masked = twin[d.col("personnummer")][:8] + "-****"
    return [(d.line_of(5), "personnummer", "duplicate person in snapshot", masked),
            (d.line_of(len(d.rows) - 1), "personnummer", "duplicate person in snapshot", masked)]


def _listing_unparseable(d):
    line = d.set(12, "listed_from", "2024-02-30")
    d.set(12, "sabo", "kanske")
    return [(line, "listed_from", "unparseable date '2024-02-30'", None),
            (line, "sabo", "unparseable boolean 'kanske' (expected 1/0, true/false or ja/nej)", None)]


def _listing_after_month(d):
    line = d.set(13, "listed_from", "2025-03-01")
    return [(line, "listed_from", "listed_from 2025-03-01 after the month's last day 2025-02-28", None)]


def _listing_units(d):
    return [(d.set(14, "vardcentral_hsa_id", UNKNOWN_UNIT), "vardcentral_hsa_id", "unknown unit", UNKNOWN_UNIT),
            (d.set(15, "vardcentral_hsa_id", NOT_YET_OPEN), "vardcentral_hsa_id",
             "unit not yet open on 2025-02-28 (opened_on 2025-03-01)", NOT_YET_OPEN),
            (d.set(16, "vardcentral_hsa_id", FILIAL), "vardcentral_hsa_id",
             "unit type filial, expected vardcentral", FILIAL)]


def _personnummer_rows(d, start):
    """Rows from `start` on whose identity is a personnummer (not a samordnings- or reserve number)."""
    return [i for i in range(start, len(d.rows))
            if re.fullmatch(r"\d{8}-?\d{4}", d.get(i, "personnummer")) and int(d.get(i, "personnummer")[6:8]) <= 31]


def _visits_invalid_identity(d):
    i, j = _personnummer_rows(d, 20)[:2]
    first = d.get(i, "personnummer").replace("-", "")
    second = d.get(j, "personnummer").replace("-", "")
    return [(d.set(i, "personnummer", with_bad_check_digit(first).replace("-", "")), "personnummer",
             "invalid personnummer: invalid check digit", first[:8] + "-****"),
            (d.set(j, "personnummer", "19900230" + second[8:]), "personnummer",
             "invalid personnummer: impossible birth date", "19900230-****")]


def _visits_duplicate_contact_id(d):
    d.set(31, "contact_id", d.get(30, "contact_id"))
    return [(d.line_of(30), "contact_id", "duplicate contact_id", None),
            (d.line_of(31), "contact_id", "duplicate contact_id", None)]


def _visits_contact_id_of_previous_month(d):
    used = Delivery.load(d.path.parents[1] / PREVIOUS / "visits.csv").get(7, "contact_id")
    return [(d.set(32, "contact_id", used), "contact_id",
             "duplicate contact_id: already delivered for 2025-01", used)]


def _visits_dates(d):
    return [(d.set(40, "contact_date", "2025-03-01"), "contact_date", "contact_date 2025-03-01 outside month 2025-02",
             None),
            (d.set(41, "contact_date", "2025-01-31"), "contact_date", "contact_date 2025-01-31 outside month 2025-02",
             None),
            (d.set(42, "contact_date", "2025-02-29"), "contact_date", "unparseable date '2025-02-29'", None),
            (d.set(43, "contact_date", "12/02/2025"), "contact_date", "unparseable date '12/02/2025'", None)]


def _visits_unknown_unit(d):
    return [(d.set(50, "vardcentral_hsa_id", UNKNOWN_UNIT), "vardcentral_hsa_id", "unknown unit", UNKNOWN_UNIT)]


def _telephony_callback_before_call(d):
    i = next(i for i, r in enumerate(d.rows) if r[d.col("outcome")] == "callback_done")
    called = d.get(i, "called_at")
    early = called[:11] + "00:00:01"
    return [(d.set(i, "callback_at", early), "callback_at", f"callback_at {early} before called_at {called}", None)]


def _telephony_duplicate_call_id(d):
    d.set(61, "call_id", d.get(60, "call_id"))
    return [(d.line_of(60), "call_id", "duplicate call_id", None),
            (d.line_of(61), "call_id", "duplicate call_id", None)]


def _telephony_call_id_of_previous_month(d):
    used = Delivery.load(d.path.parents[1] / PREVIOUS / "telephony.csv").get(3, "call_id")
    return [(d.set(62, "call_id", used), "call_id", "duplicate call_id: already delivered for 2025-01", used)]


def _telephony_times(d):
    # row 71 answered, so that its (generated) callback cannot also fall before the edited call
    d.set(71, "outcome", "answered")
    d.set(71, "callback_at", "")
    return [(d.set(70, "called_at", "2025-01-31 23:59:59"), "called_at",
             "called_at 2025-01-31 23:59:59 outside month 2025-02", None),
            (d.set(71, "called_at", "2025-03-01 00:00:00"), "called_at",
             "called_at 2025-03-01 00:00:00 outside month 2025-02", None),
            (d.set(72, "called_at", "2025-02-10 25:61:00"), "called_at", "unparseable timestamp '2025-02-10 25:61:00'",
             None)]


def _telephony_unknown_unit(d):
    return [(d.set(80, "vardcentral_hsa_id", UNKNOWN_UNIT), "vardcentral_hsa_id", "unknown unit", UNKNOWN_UNIT)]


ROW_FAULTS = {
    "invalid personnummer in listing": ("listing", _listing_pnr_bad_check),
    "impossible birth date in listing": ("listing", _listing_pnr_impossible_date),
    "duplicate person in snapshot": ("listing", _listing_duplicate_person),
    "unparseable date and boolean": ("listing", _listing_unparseable),
    "listed_from after the month": ("listing", _listing_after_month),
    "unknown, not yet open and non-VC listing unit": ("listing", _listing_units),
    "invalid personnummer in visits": ("visits", _visits_invalid_identity),
    "duplicate contact_id": ("visits", _visits_duplicate_contact_id),
    "contact_id delivered for another month": ("visits", _visits_contact_id_of_previous_month),
    "contact dates outside the month or unparseable": ("visits", _visits_dates),
    "unknown performing unit": ("visits", _visits_unknown_unit),
    "callback_at before called_at": ("telephony", _telephony_callback_before_call),
    "duplicate call_id": ("telephony", _telephony_duplicate_call_id),
    "call_id delivered for another month": ("telephony", _telephony_call_id_of_previous_month),
    "call times outside the month or unparseable": ("telephony", _telephony_times),
    "unknown called unit": ("telephony", _telephony_unknown_unit),
}


@pytest.mark.parametrize("fault", list(ROW_FAULTS))
def test_row_fault_is_quarantined_with_file_line_column_and_reason(landed, fault):
    source, edit = ROW_FAULTS[fault]
    accepted_before = landed.count(source)
    delivery = landed.delivery(source)
    expected = edit(delivery)
    delivery.save()

    outcome = landed.ingest()[source]
    assert outcome.status == "correction", outcome.message
    found = landed.quarantine(source)
    lines = {line for line, *_ in expected}
    assert [(line, column, reason) for _, line, column, reason, _ in found] == \
           sorted((line, column, reason) for line, column, reason, _ in expected)
    assert {name for name, *_ in found} == {f"{source}.csv"}
    for line, column, _, masked in expected:
        if masked is not None:
            assert (line, column, masked) in {(f[1], f[2], f[4]) for f in found}
    _no_personnummer(found, outcome.masked_sample, outcome.reasons)
    # nothing dropped silently: every line read is accepted or quarantined
    rows_read = landed.sql("select rows_read, rows_accepted, rows_quarantined from raw.source_files "
                           "where month = ? and source = ?", MONTH, source)[0]
    assert rows_read[0] == len(delivery.rows) and rows_read[1] + rows_read[2] == rows_read[0]
    assert rows_read[2] == len(lines) and landed.count(source) == len(delivery.rows) - len(lines)
    assert len(delivery.rows) - accepted_before in (0, 1)      # one fault appends a row, the rest edit
    # a few rows are far below the limit: the month may still publish, and reports them
    gate = landed.gate()
    assert gate["deliveries_readable"].passed and gate["quarantine_within_limit"].passed


def test_an_unclosed_quote_or_foreign_bytes_quarantine_their_line_and_lose_no_other(landed):
    """A quote opened in the second field 12 lines before the end, and bytes that are neither
    UTF-8 nor Windows-1252 near the top: those two lines are quarantined, named by line, column
    and character, and every other line is read (rows read = the file's data lines)."""
    delivery = landed.delivery("visits")
    n = len(delivery.rows)
    lines = delivery.path.read_bytes().split(b"\n")
    sep = delivery.sep.encode()
    quoted, foreign = n - 12, 2          # file lines (header = 1) are list index + 1
    lines[quoted - 1] = lines[quoted - 1].replace(sep, sep + b'"', 1)
    lines[foreign - 1] = b"K\x81\x8d" + lines[foreign - 1]
    delivery.path.write_bytes(b"\n".join(lines))

    outcome = landed.ingest()["visits"]
    assert outcome.status == "correction", outcome.message
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_quarantined) == (n, n - 2, 2)
    found = landed.quarantine("visits")
    assert [(f[1], f[2]) for f in found] == [(foreign, "contact_id"), (quoted, "personnummer")]
    assert found[0][3] == ("byte 0x81 that is neither UTF-8 nor Windows-1252 in field 1 "
                           "(contact_id) at character 2")
    assert found[1][3].startswith("unclosed quote in field 2 (personnummer) at character ")
    assert found[1][4] == "****"
    accepted = {line for (line,) in landed.sql("select source_line from raw.visits where month = ?", MONTH)}
    assert accepted == set(range(2, n + 2)) - {foreign, quoted}
    assert landed.gate()["quarantine_within_limit"].passed


def test_truncated_file_quarantines_its_last_line(landed):
    delivery = landed.delivery("telephony")
    data = delivery.path.read_bytes().rstrip(b"\r\n")
    last = data.rsplit(b"\n", 1)[1]
    sep = delivery.sep.encode()
    cut = last[:last.index(sep, last.index(sep) + 1) + 8]          # inside the 3rd field, no line break
    delivery.path.write_bytes(data[: len(data) - len(last)] + cut)
    outcome = landed.ingest()["telephony"]
    assert outcome.status == "correction"
    last_line = len(delivery.rows) + 1
    assert landed.quarantine("telephony") == [("telephony.csv", last_line, None, "truncated line: 3 of 7 fields",
                                               cut.decode()[:50])]
    assert outcome.rows_read == len(delivery.rows) and outcome.rows_accepted == len(delivery.rows) - 1


def test_truncated_listing_line_shows_only_a_masked_personnummer(landed):
    delivery = landed.delivery("listing")
    data = delivery.path.read_bytes().rstrip(b"\r\n")
    last = data.rsplit(b"\n", 1)[1]
    delivery.path.write_bytes(data[: len(data) - len(last)] + last[:last.index(delivery.sep.encode()) + 12])
    landed.ingest()
    [(name, line, column, reason, masked)] = landed.quarantine("listing")
    assert (name, line, reason) == ("listing.csv", len(delivery.rows) + 1, "truncated line: 2 of 7 fields")
    assert masked == last[:8].decode() + "-****"


def test_closed_unit_is_quarantined(landed):
    """A unit closed before the month (registry `closed_on`) takes no listing, contact or call."""
    registry = Delivery.load(landed.settings.landing_dir / "reference" / "vardcentraler.csv")
    closed = list(registry.rows[0])
    closed[registry.col("hsa_id")] = CLOSED_UNIT
    closed[registry.col("name")] = "Stängda vårdcentralen"
    closed[registry.col("closed_on")] = "2025-01-31"
    registry.rows.append(closed)
    registry.save()
    assert load_reference(landed.settings)["status"] == "loaded"
    expected = {}
    for source, column, index in (("listing", "vardcentral_hsa_id", 3), ("visits", "vardcentral_hsa_id", 3),
                                  ("telephony", "vardcentral_hsa_id", 3)):
        delivery = landed.delivery(source)
        expected[source] = delivery.set(index, column, CLOSED_UNIT)
        delivery.save()
    landed.ingest()
    assert landed.quarantine("listing") == [
        ("listing.csv", expected["listing"], "vardcentral_hsa_id",
         "unit closed on 2025-02-28 (closed_on 2025-01-31)", CLOSED_UNIT)]
    for source in ("visits", "telephony"):
        [(_, line, column, reason, _)] = landed.quarantine(source)
        assert (line, column) == (expected[source], "vardcentral_hsa_id")
        assert re.fullmatch(r"unit closed on 2025-02-\d\d \(closed_on 2025-01-31\)", reason)


def test_identical_redelivery_is_a_no_op(landed):
    before = landed.snapshot()
    for source in ("listing", "visits", "telephony"):        # delivered again: same bytes, new file
        path = landed.delivery(source).path
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
    outcomes = landed.ingest()
    assert {o.status for o in outcomes.values()} == {"unchanged"}
    assert outcomes["visits"].message == "visits.csv for 2025-02 is identical to the last delivery: nothing to do"
    assert landed.snapshot() == before                      # not even ingested_at moved
    ledger = landed.sql("select source, status from raw.delivery_ledger where month = ? "
                        "order by seen_at desc, source limit 3", MONTH)
    assert sorted(ledger) == [("listing", "unchanged"), ("telephony", "unchanged"), ("visits", "unchanged")]


def test_a_national_size_month_stores_each_delivery_like_a_batch(landed, monkeypatch):
    """Above PARALLEL_READ_MAX_BYTES a month's deliveries are read and stored one at a time
    (memory); what lands in the warehouse must be what the batch path stores."""
    listing = landed.delivery("listing")
    expected = _listing_duplicate_person(listing)
    listing.save()
    visits = landed.delivery("visits")
    visits.rows.append(list(visits.rows[3]))                 # a contact_id twice in the file
    visits.save()

    def stored() -> dict:
        rows = {table: landed.sql(f"select * from raw.{table} where month = ? order by all", MONTH)
                for table in ("listing", "visits", "telephony", "quarantine")}
        rows["files"] = landed.sql("select source, rows_read, rows_accepted, rows_quarantined "
                                   "from raw.source_files where month = ? order by source", MONTH)
        return rows

    batch = ingestion.ingest_months(landed.settings, [MONTH], force=True)
    by_batch = stored()
    with duckdb.connect(str(landed.settings.warehouse_path)) as con:  # so it must store them again
        for table in ("listing", "visits", "telephony", "quarantine"):
            con.execute(f"delete from raw.{table} where month = ?", [MONTH])
    monkeypatch.setattr(ingestion, "PARALLEL_READ_MAX_BYTES", 0)
    one_by_one = ingestion.ingest_months(landed.settings, [MONTH], force=True)
    assert stored() == by_batch
    assert [(o.source, o.rows_accepted, o.rows_quarantined, o.reasons) for o in one_by_one] == \
           [(o.source, o.rows_accepted, o.rows_quarantined, o.reasons) for o in batch]
    assert {line for _, line, *_ in landed.quarantine("listing")} == {line for line, *_ in expected}
    assert landed.quarantine("visits")


def test_a_national_size_month_holds_one_delivery_at_a_time(landed, monkeypatch):
    """One by one, a delivery's frames are gone before the next one is read (a national
    listing is ~2.5 GiB): nothing in the loop may keep the last result alive."""
    read, made, alive_at_read = ingestion._read_or_error, [], []

    def spy_read(*args, **kwargs):
        alive_at_read.append(sum(ref() is not None for ref in made))
        result = read(*args, **kwargs)
        made.append(weakref.ref(result.accepted))
        return result

    monkeypatch.setattr(ingestion, "_read_or_error", spy_read)
    monkeypatch.setattr(ingestion, "PARALLEL_READ_MAX_BYTES", 0)
    outcomes = ingestion.ingest_months(landed.settings, [MONTH], force=True)
    assert [o.status for o in outcomes] == ["reingested"] * 3
    assert alive_at_read == [0, 0, 0]
    assert all(ref() is None for ref in made)


def test_a_new_key_reingests_and_changes_every_person_key(landed, monkeypatch):
    old = {r[0] for r in landed.sql("select person_key from raw.listing where month = ?", MONTH)}
    monkeypatch.setenv(KEY_ENV, "another-key-not-secret")
    assert load_reference(landed.settings)["status"] == "loaded"   # acg_weights carry person keys too
    outcomes = landed.ingest()
    assert {o.status for o in outcomes.values()} == {"reingested"}
    new = {r[0] for r in landed.sql("select person_key from raw.listing where month = ?", MONTH)}
    assert len(new) == len(old) and not old & new


# --- reference data: a bad file stops the load and leaves the loaded reference as it was -------

def _reference_tables(landed: Landed) -> dict:
    return {t: landed.sql(f"select * from raw.{t} order by all")
            for t in ("vardcentraler", "cni_areas", "model_versions", "model_capitation", "reference_files")}


@pytest.mark.parametrize("change,pattern", [
    ("2026-02-01", r"^reimbursement_model\.yaml: versions\[1\]\.valid_from: gap after versions\[0\]: "
                   r"no version is valid 2026-01-01\.\.2026-01-31"),
    ("2025-12-01", r"^reimbursement_model\.yaml: versions\[1\]\.valid_from: overlaps versions\[0\]"),
])
def test_model_with_a_gap_or_overlap_is_refused_and_changes_nothing(landed, change, pattern):
    before = _reference_tables(landed)
    path = landed.settings.landing_dir / "reference" / "reimbursement_model.yaml"
    text = path.read_text(encoding="utf-8")
    assert "valid_from: 2026-01-01" in text
    path.write_text(text.replace("valid_from: 2026-01-01", f"valid_from: {change}"), encoding="utf-8")
    with pytest.raises(ModelValidationError) as error:
        load_reference(landed.settings)
    assert re.search(pattern, str(error.value)), str(error.value)
    assert _reference_tables(landed) == before


def test_unparseable_number_in_reference_data_names_file_line_and_column(landed):
    before = _reference_tables(landed)
    cni = Delivery.load(landed.settings.landing_dir / "reference" / "cni_areas.csv")
    line = cni.set(5, "cni", "1,07x")
    cni.save()
    with pytest.raises(SourceFileError) as error:
        load_reference(landed.settings)
    message = str(error.value)
    # the first line alone (what a progress feed shows) names file, line, column and reason
    assert re.match(rf"cni_areas\.csv: 1 invalid row, first line {line}, column cni: unparseable number '1,07x'",
                    message.splitlines()[0]), message
    assert _reference_tables(landed) == before
