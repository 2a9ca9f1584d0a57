"""Payouts and adjustments (SPEC §6.1): the ledger's rules on hand-made figures, then through the
publication's commit on the marts fixture."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.vocabulary import COMPONENTS
from orchestration.defs.publication import payouts as P
from orchestration.defs.publication.commit import FAULT_ENV
from orchestration.defs.publication.gate import month_fingerprint, record_checks
from orchestration.defs.publication.layout import read_catalog
from orchestration.defs.publication.publisher import publication, publish_month
from tests.marts_fixture import VC_A, VC_B, build_marts_warehouse, execute
from validations.outcome import CheckOutcome

A, B, C = "SE-A", "SE-B", "SE-C"
REGISTRY = pd.DataFrame([
    dict(hsa_id=A, name="Norra", provider_name="Region X", provider_org_number="232100-0000",
         valid_from=None, valid_to=None),
    dict(hsa_id=B, name="Älvdalen", provider_name="Läkarhus AB", provider_org_number="556000-0001",
         valid_from=None, valid_to=pd.Timestamp("2025-01-31")),
    dict(hsa_id=B, name="Älvdalen", provider_name="Nya Läkarhus AB", provider_org_number="556000-0002",
         valid_from=pd.Timestamp("2025-02-01"), valid_to=None),
    dict(hsa_id=C, name="Söder", provider_name="Söder AB", provider_org_number="556000-0003",
         valid_from=None, valid_to=None),
])


def _month(capitation: dict[str, float], geography: float = 1000.0) -> pd.DataFrame:
    rows = []
    for vc, cap in capitation.items():
        row = {c: 0.0 for c in COMPONENTS}
        row.update(vardcentral_hsa_id=vc, capitation=cap, geography=geography)
        row["total"] = sum(row[c] for c in COMPONENTS)
        rows.append(row)
    return pd.DataFrame(rows)


class Versions:
    """Month → version → reimbursement rows; `read` is the MonthReader settle() is given."""

    def __init__(self):
        self.rows: dict[tuple[str, int], pd.DataFrame] = {}

    def put(self, month: str, version: int, frame: pd.DataFrame) -> None:
        self.rows[(month, version)] = frame

    def latest(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for month, version in self.rows:
            out[month] = max(out.get(month, 0), version)
        return out

    def read(self, month: str, version: int):
        return self.rows[(month, version)], REGISTRY


BASE = {A: 10000.125, B: 20000.0, C: 5000.0}


def _three_months() -> tuple[Versions, P.Ledger]:
    v = Versions()
    ledger = P.Ledger()
    for month in ("2025-01", "2025-02", "2025-03"):
        v.put(month, 1, _month(BASE))
        ledger = P.settle(ledger, v.latest(), v.read, f"{month}-paid")
    return v, ledger


def test_first_publication_pays_each_vc_rounded_to_the_ore_with_the_provider_of_the_month():
    v, ledger = _three_months()
    assert list(ledger.payouts["payout_month"].unique()) == ["2025-01", "2025-02", "2025-03"]
    jan = ledger.payouts[ledger.payouts["payout_month"] == "2025-01"].set_index("vardcentral_hsa_id")
    assert jan.at[A, "month_total"] == 11000.125             # unrounded
    assert jan.at[A, "amount_to_pay"] == 11000.13            # half away from zero
    assert jan.at[B, "provider_org_number"] == "556000-0001"
    feb = ledger.payouts[ledger.payouts["payout_month"] == "2025-02"].set_index("vardcentral_hsa_id")
    assert feb.at[B, "provider_org_number"] == "556000-0002"  # the registry row valid in February
    assert ledger.adjustments.empty and P.reconcile(ledger, v.read) == []


def test_round_ore_is_half_away_from_zero():
    assert P.round_ore(0.125) == 0.13 and P.round_ore(-0.125) == -0.13 and P.round_ore(2.675) == 2.68
    assert P.round_ore(-2.674) == -2.67


def test_a_correction_is_pending_until_the_next_payout_settles_exactly_the_differences():
    v, ledger = _three_months()
    # a listing change moves capitation at two VCs: one person from A to B
    v.put("2025-01", 2, _month({A: 9800.125, B: 20200.5, C: 5000.0}))
    ledger = P.settle(ledger, v.latest(), v.read, "corrected")
    assert ledger.new_payout_months == []
    pending = ledger.pending()
    assert sorted(zip(pending["vardcentral_hsa_id"], pending["component"], pending["amount"])) == \
        [(A, "capitation", -200.0), (B, "capitation", 200.5)]
    assert set(pending["from_version"]) == {1} and set(pending["to_version"]) == {2}
    assert P.reconcile(ledger, v.read) == []

    v.put("2025-04", 1, _month(BASE))
    ledger = P.settle(ledger, v.latest(), v.read, "april")
    assert ledger.new_payout_months == ["2025-04"] and ledger.pending().empty
    assert set(ledger.adjustments["settled_in_payout_month"]) == {"2025-04"}
    apr = ledger.payouts[ledger.payouts["payout_month"] == "2025-04"].set_index("vardcentral_hsa_id")
    assert apr.at[A, "adjustments_total"] == -200.0 and apr.at[B, "adjustments_total"] == 200.5
    assert apr.at[C, "adjustments_total"] == 0.0
    assert apr.at[B, "amount_to_pay"] == 21000.0 + 200.5
    assert P.reconcile(ledger, v.read) == []
    # earlier payouts are never rewritten
    assert len(ledger.payouts) == 4 * 3


def test_a_second_correction_adjusts_against_the_first():
    v, ledger = _three_months()
    v.put("2025-01", 2, _month({A: 9800.125, B: 20200.5, C: 5000.0}))
    ledger = P.settle(ledger, v.latest(), v.read, "first correction")
    v.put("2025-04", 1, _month(BASE))
    ledger = P.settle(ledger, v.latest(), v.read, "april")
    v.put("2025-01", 3, _month({A: 9900.125, B: 20200.5, C: 5000.0}, geography=1500.0))
    ledger = P.settle(ledger, v.latest(), v.read, "second correction")
    pending = ledger.pending().sort_values(["vardcentral_hsa_id", "component"])
    assert list(zip(pending["vardcentral_hsa_id"], pending["component"], pending["amount"],
                    pending["from_version"], pending["to_version"])) == [
        (A, "capitation", 100.0, 2, 3), (A, "geography", 500.0, 2, 3),
        (B, "geography", 500.0, 2, 3), (C, "geography", 500.0, 2, 3)]
    assert P.reconcile(ledger, v.read) == []


def test_corrections_in_the_same_run_as_a_new_month_count_as_published_first():
    v, ledger = _three_months()
    v.put("2025-02", 2, _month({A: 10000.125, B: 20000.0, C: 5100.0}))
    v.put("2025-04", 1, _month(BASE))
    ledger = P.settle(ledger, v.latest(), v.read, "together")
    assert ledger.pending().empty
    settled = ledger.adjustments.iloc[0]
    assert (settled["month"], settled["component"], settled["amount"], settled["settled_in_payout_month"]) == \
        ("2025-02", "capitation", 100.0, "2025-04")
    assert P.reconcile(ledger, v.read) == []


def test_an_unchanged_catalog_makes_no_payout_and_no_adjustment():
    v, ledger = _three_months()
    again = P.settle(ledger, v.latest(), v.read, "again")
    assert again.new_payout_months == [] and len(again.payouts) == len(ledger.payouts)
    assert again.adjustments.empty


def test_the_reconciliation_finds_a_payout_that_does_not_add_up():
    v, ledger = _three_months()
    ledger.payouts.loc[0, "amount_to_pay"] += 0.5
    assert P.reconcile(ledger, v.read) and P.reconcile(ledger, v.read)[0].startswith(A)


def test_payment_file_is_semicolon_bom_decimal_comma_and_must_add_up():
    _, ledger = _three_months()
    rows = ledger.payouts[ledger.payouts["payout_month"] == "2025-01"]
    data = P.payment_file_bytes(rows, {A: "Norra", B: "Älvdalen", C: "Söder"})
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == ";".join(P.PAYMENT_FILE_HEADER)
    assert lines[1] == f"{A};Norra;Region X;232100-0000;11000,13;0,00"
    assert P.check_payment_file(data, rows) == []
    broken = data.replace(b"11000,13", b"11000,12")
    assert P.check_payment_file(broken, rows)


# ------------------------------------------------------------------ through the publication commit

OK = [CheckOutcome("components_sum_to_total", "marts.reimbursement_monthly", True, True, "fine.", {})]


def _publish(w: Path, d: Path, month: str):
    record_checks(d, month, month_fingerprint(w, month), OK)
    return publish_month(w, d, month, input_checksums={}, check_outcomes=OK, code_version="test")


def _move_listing(w: Path) -> None:
    """A corrected January: 300 SEK of capitation moves from VC A to VC B."""
    execute(w, f"update marts.reimbursement_monthly set capitation = capitation - 300, total = total - 300 "
               f"where month = '2025-01' and vardcentral_hsa_id = '{VC_A}'",
            f"update marts.reimbursement_monthly set capitation = capitation + 300, total = total + 300 "
            f"where month = '2025-01' and vardcentral_hsa_id = '{VC_B}'")


def test_publication_pays_once_records_the_correction_and_settles_it_in_the_next_payout(tmp_path):
    data = tmp_path / "data"
    w = build_marts_warehouse(data)
    published = data / "published"
    _publish(w, data, "2025-01")
    csv = published / "payouts" / "2025-01" / "betalfil_2025-01.csv"
    first = csv.read_bytes()
    manifest = json.loads((published / "versions" / "2025-01" / "v0001" / "manifest.json").read_text())
    assert manifest["payout"]["sha256"] == __import__("hashlib").sha256(first).hexdigest()
    payouts_file = (published / "payouts" / "2025-01" / "payouts.parquet").read_bytes()

    _publish(w, data, "2025-01")                                   # no-op: nothing new
    assert csv.read_bytes() == first
    assert (published / "payouts" / "2025-01" / "payouts.parquet").read_bytes() == payouts_file

    _move_listing(w)
    assert _publish(w, data, "2025-01").version == 2
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        pending = con.execute("select vardcentral_hsa_id, component, amount, from_version, to_version "
                              "from reimbursement_adjustments where settled_in_payout_month is null "
                              "order by 1").fetchall()
        assert pending == [(VC_A, "capitation", -300.0, 1, 2), (VC_B, "capitation", 300.0, 1, 2)]
        assert con.execute("select count(distinct payout_month) from payouts").fetchone()[0] == 1
    assert (published / "payouts" / "2025-01" / "payouts.parquet").read_bytes() == payouts_file

    _publish(w, data, "2025-02")
    with duckdb.connect(str(published / "published.duckdb"), read_only=True) as con:
        feb = dict(con.execute("select vardcentral_hsa_id, adjustments_total from payouts "
                               "where payout_month = '2025-02'").fetchall())
        assert feb[VC_A] == -300.0 and feb[VC_B] == 300.0
        assert con.execute("select count(*) from reimbursement_adjustments "
                           "where settled_in_payout_month is null").fetchone()[0] == 0
    ledger = P.load_ledger(published)
    assert P.reconcile(ledger, lambda m, v: (pq.read_table(
        published / "versions" / m / f"v{v:04d}" / "reimbursement_monthly.parquet").to_pandas(), None)) == []
    lines = (published / "payouts" / "2025-02" / "betalfil_2025-02.csv").read_text(encoding="utf-8-sig").splitlines()
    assert any(line.startswith(VC_B) and line.endswith(";300,00") for line in lines)


_KILLED = """
import sys
from pathlib import Path
from orchestration.defs.publication.publisher import publish_month
publish_month(Path(sys.argv[1]), Path(sys.argv[2]), "2025-02", input_checksums={}, check_outcomes=[],
              code_version="test")
"""


@pytest.mark.parametrize("stage", ["staged", "commit:journal", "commit:parquet"])
def test_a_killed_run_leaves_a_payout_with_its_file_or_neither(tmp_path, stage):
    data = tmp_path / "data"
    w = build_marts_warehouse(data)
    published = data / "published"
    _publish(w, data, "2025-01")
    record_checks(data, "2025-02", month_fingerprint(w, "2025-02"), OK)
    killed = subprocess.run([sys.executable, "-c", _KILLED, str(w), str(data)],
                            env={**os.environ, FAULT_ENV: stage}, start_new_session=True,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    month_dir = published / "payouts" / "2025-02"
    if stage in ("staged", "commit:journal"):   # the journal's files are not yet swapped in
        assert not month_dir.exists()
    else:
        assert (month_dir / "payouts.parquet").exists() and (month_dir / "betalfil_2025-02.csv").exists()
    _publish(w, data, "2025-02")                                    # recovers, then converges
    assert (month_dir / "payouts.parquet").exists() and (month_dir / "betalfil_2025-02.csv").exists()
    assert sorted(P.load_ledger(published).payouts["payout_month"].unique()) == ["2025-01", "2025-02"]
    assert read_catalog(published)["months"]["2025-02"]["latest_version"] == 1


def test_vardval_payouts_lists_payouts_and_files_and_status_shows_pending_adjustments(tmp_path):
    from tests.test_cli import vardval

    data = tmp_path / "data"
    w = build_marts_warehouse(data)
    _publish(w, data, "2025-01")
    _move_listing(w)
    _publish(w, data, "2025-01")
    listed = vardval(tmp_path, "payouts")
    assert listed.returncode == 0, listed.stderr
    assert "2025-01" in listed.stdout and "betalfil_2025-01.csv" in listed.stdout.replace("\n", "")
    assert "no payouts for 2025-02" in vardval(tmp_path, "payouts", "--month", "2025-02").stdout
    status = vardval(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "pending adjustments" in status.stdout and "2025-01: 2 adjustments, +0.00 SEK" in status.stdout


def test_payouts_that_do_not_reconcile_refuse_the_commit(tmp_path):
    from orchestration.defs.publication.gate import PublicationRefused

    data = tmp_path / "data"
    w = build_marts_warehouse(data)
    published = data / "published"
    _publish(w, data, "2025-01")
    rows = pq.read_table(published / "payouts" / "2025-01" / "payouts.parquet")
    tampered = rows.to_pandas()
    tampered.loc[0, "amount_to_pay"] += 1.0
    pq.write_table(P.pa.Table.from_pandas(tampered, schema=P.PAYOUT_SCHEMA, preserve_index=False),
                   str(published / "payouts" / "2025-01" / "payouts.parquet"))
    with pytest.raises(PublicationRefused, match="do not reconcile"):
        _publish(w, data, "2025-02")
    assert list(read_catalog(published)["months"]) == ["2025-01"]
    assert not (published / "payouts" / "2025-02").exists()
    assert not (published / "versions" / "2025-02").exists() or not any(
        (published / "versions" / "2025-02").iterdir())


def test_the_statement_of_a_payout_lists_the_adjustments_it_settles_and_the_region_workbook_its_payment(tmp_path):
    from openpyxl import load_workbook

    from orchestration.defs.publication.statements import SUMMARY_SHEET, write_statements

    data = tmp_path / "data"
    w = build_marts_warehouse(data)
    _publish(w, data, "2025-01")
    _move_listing(w)
    _publish(w, data, "2025-01")
    _publish(w, data, "2025-02")
    write_statements(w, "2025-02", tmp_path / "statements")

    def rows(vc: str) -> list[tuple]:
        ws = load_workbook(tmp_path / "statements" / "2025-02" / f"ersattningsunderlag_2025-02_{vc}.xlsx")[SUMMARY_SHEET]
        values = [tuple(c for c in row if c is not None) for row in ws.iter_rows(values_only=True)]
        start = values.index(("Efterreglering",))
        return values[start:]

    b = rows(VC_B)
    assert ("januari 2025", "v1 → v2", "Kapitering", 300.0) in b
    assert ("Summa efterreglering", 300.0) in b
    assert ("januari 2025", "v1 → v2", "Kapitering", -300.0) in rows(VC_A)
    region = load_workbook(tmp_path / "statements" / "2025-02" / "region_summary_2025-02.xlsx")["Utbetalning"]
    payment = {row[0]: row for row in region.iter_rows(values_only=True) if row[0] in (VC_A, VC_B)}
    assert payment[VC_B][5] == 300.0 and payment[VC_A][5] == -300.0
    assert payment[VC_B][6] == P.round_ore(payment[VC_B][4] + 300.0)
