"""Payouts and adjustments (utbetalning och efterreglering, SPEC §6.1).

The payout of month M is made when M is published for the first time: each VC is paid that
version's `total`. A later version of a paid month records, per VC and component, the difference
against the version last paid (or adjusted to) for that month as a pending adjustment, settled in
the next payout. Within one commit the corrections count as published first, then the new months
in month order; the first of them settles every pending adjustment.

The ledger lives under `published/payouts/` and is written through the publication's commit
(publisher.py) so that a crash leaves a payout with its file, or neither:

    payouts/<M>/payouts.parquet            the payout rows of M (written once, never rewritten)
    payouts/<M>/betalfil_<M>.csv           the payment file for the finance system
    payouts/reimbursement_adjustments.parquet   every adjustment, settled_in_payout_month null while pending
    payouts/ledger.json                    per paid month, the version its figures are paid or adjusted to

`settle()` is pure: the ledger in force and the new catalog's versions in, the new ledger out.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.vocabulary import COMPONENTS

PAYOUTS_DIR = "payouts"
LEDGER = "ledger.json"
ADJUSTMENTS_FILE = "reimbursement_adjustments.parquet"
PAYOUT_COLUMNS = ["payout_month", "vardcentral_hsa_id", "provider_name", "provider_org_number",
                  "month_total", "adjustments_total", "amount_to_pay", "paid_at"]
ADJUSTMENT_COLUMNS = ["month", "from_version", "to_version", "vardcentral_hsa_id", "component", "amount",
                      "settled_in_payout_month"]
# Payment file columns (Swedish, as the finance system's import names them)
PAYMENT_FILE_HEADER = ["hsa_id", "namn", "vardgivare", "organisationsnummer", "belopp_att_betala",
                       "varav_efterreglering"]
# A recomputed figure equal to the paid one differs by float noise at most: smaller is no adjustment.
ZERO_SEK = 1e-9
RECONCILIATION_TOLERANCE_SEK = 0.01   # per payout (SPEC §6.1)

PAYOUT_SCHEMA = pa.schema([("payout_month", pa.string()), ("vardcentral_hsa_id", pa.string()),
                           ("provider_name", pa.string()), ("provider_org_number", pa.string()),
                           ("month_total", pa.float64()), ("adjustments_total", pa.float64()),
                           ("amount_to_pay", pa.float64()), ("paid_at", pa.string())])
ADJUSTMENT_SCHEMA = pa.schema([("month", pa.string()), ("from_version", pa.int32()), ("to_version", pa.int32()),
                               ("vardcentral_hsa_id", pa.string()), ("component", pa.string()),
                               ("amount", pa.float64()), ("settled_in_payout_month", pa.string())])

# What BI readers see of the two tables in published.duckdb (published_db.load_descriptions).
TABLE_DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "payouts": (
        "One row per VC and payout (SPEC §6.1): the payout of month M is made when M is published "
        "for the first time; written once, never changed afterwards.",
        {"payout_month": "'YYYY-MM': the month whose first publication made the payout.",
         "vardcentral_hsa_id": "HSA-id of the VC paid.",
         "provider_name": "Provider (vårdgivare) of the VC's registry row valid in the payout month.",
         "provider_org_number": "The provider's organisation number (registry), null if not given.",
         "month_total": "The payout month's reimbursement total for the VC (SEK, unrounded).",
         "adjustments_total": "Sum of the adjustments of earlier months settled in this payout (SEK, unrounded).",
         "amount_to_pay": "month_total + adjustments_total, rounded to the öre (half away from zero).",
         "paid_at": "When the payout was committed (UTC)."}),
    "reimbursement_adjustments": (
        "Efterreglering (SPEC §6.1): per corrected month, VC and component, the new version's amount "
        "minus the version last paid for that month; pending until the next payout settles it.",
        {"month": "'YYYY-MM': the corrected month.",
         "from_version": "The version last paid (or adjusted to) for the month.",
         "to_version": "The correcting version.",
         "vardcentral_hsa_id": "HSA-id of the VC.",
         "component": "Reimbursement component (a column of reimbursement_monthly).",
         "amount": "to_version's amount minus from_version's (SEK, unrounded; never 0).",
         "settled_in_payout_month": "The payout that settled it; null while pending."}),
}


def round_ore(amount: float) -> float:
    """To the öre, half away from zero (the float's shortest decimal form decides)."""
    return float(Decimal(repr(float(amount))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass
class Ledger:
    paid_versions: dict[str, int] = field(default_factory=dict)
    payouts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PAYOUT_COLUMNS))
    adjustments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ADJUSTMENT_COLUMNS))
    new_payout_months: list[str] = field(default_factory=list)   # made by the last settle()

    def pending(self) -> pd.DataFrame:
        return self.adjustments[self.adjustments["settled_in_payout_month"].isna()]


# A month's reimbursement rows and registry rows of one version: (reimbursement_monthly, vardcentraler)
MonthReader = Callable[[str, int], tuple[pd.DataFrame, pd.DataFrame]]


def _provider(registry: pd.DataFrame, vc: str, month: str) -> tuple[str | None, str | None, str | None]:
    """(name, provider_name, provider_org_number) of the registry row valid in the month."""
    rows = registry[registry["hsa_id"] == vc]
    if rows.empty:
        return None, None, None
    start = pd.Timestamp(f"{month}-01")
    end = start + pd.offsets.MonthEnd(0)
    if "valid_from" in rows:
        vf = pd.to_datetime(rows["valid_from"])
        vt = pd.to_datetime(rows["valid_to"]) if "valid_to" in rows else pd.Series(pd.NaT, index=rows.index)
        valid = rows[(vf.isna() | (vf <= end)) & (vt.isna() | (vt >= start))]
        rows = valid.sort_values("valid_from", na_position="first") if not valid.empty else rows
    row = rows.iloc[-1]
    org = row.get("provider_org_number")
    return (row.get("name"), row.get("provider_name"),
            None if org is None or org != org else str(org))


def _component_diff(month: str, old_v: int, new_v: int, old: pd.DataFrame, new: pd.DataFrame) -> list[dict]:
    o = old.set_index("vardcentral_hsa_id")
    n = new.set_index("vardcentral_hsa_id")
    rows = []
    for vc in sorted(set(o.index) | set(n.index)):
        for comp in COMPONENTS:
            a = float(o.at[vc, comp]) if vc in o.index and comp in o.columns and pd.notna(o.at[vc, comp]) else 0.0
            b = float(n.at[vc, comp]) if vc in n.index and comp in n.columns and pd.notna(n.at[vc, comp]) else 0.0
            if abs(b - a) > ZERO_SEK:
                rows.append(dict(month=month, from_version=old_v, to_version=new_v, vardcentral_hsa_id=vc,
                                 component=comp, amount=b - a, settled_in_payout_month=None))
    return rows


def settle(ledger: Ledger, versions: dict[str, int], read: MonthReader, paid_at: str) -> Ledger:
    """The ledger after publishing `versions` (month → latest version, the new catalog).

    First every paid month whose version moved records its adjustments against the version last
    paid or adjusted to; then each month published for the first time (in month order) is paid,
    the first of them settling every pending adjustment."""
    paid = dict(ledger.paid_versions)
    adjustments = [ledger.adjustments] if not ledger.adjustments.empty else []
    for month in sorted(m for m in versions if m in paid and versions[m] != paid[m]):
        old_v, new_v = paid[month], versions[month]
        found = _component_diff(month, old_v, new_v, read(month, old_v)[0], read(month, new_v)[0])
        if found:
            adjustments.append(pd.DataFrame(found, columns=ADJUSTMENT_COLUMNS))
        paid[month] = new_v
    adj = (pd.concat(adjustments, ignore_index=True) if adjustments
           else pd.DataFrame(columns=ADJUSTMENT_COLUMNS))
    payouts = [ledger.payouts] if not ledger.payouts.empty else []
    new_months = sorted(m for m in versions if m not in paid)
    for month in new_months:
        reimbursement, registry = read(month, versions[month])
        totals = reimbursement.groupby("vardcentral_hsa_id")["total"].sum().astype(float).to_dict()
        pending = adj["settled_in_payout_month"].isna()
        settled = adj[pending].groupby("vardcentral_hsa_id")["amount"].sum().astype(float).to_dict()
        adj.loc[pending, "settled_in_payout_month"] = month
        rows = []
        for vc in sorted(set(totals) | set(settled)):
            _, provider, org = _provider(registry, vc, month)
            month_total, adjustments_total = totals.get(vc, 0.0), settled.get(vc, 0.0)
            rows.append(dict(payout_month=month, vardcentral_hsa_id=vc, provider_name=provider,
                             provider_org_number=org, month_total=month_total,
                             adjustments_total=adjustments_total,
                             amount_to_pay=round_ore(month_total + adjustments_total), paid_at=paid_at))
        payouts.append(pd.DataFrame(rows, columns=PAYOUT_COLUMNS))
        paid[month] = versions[month]
    return Ledger(paid_versions=dict(sorted(paid.items())),
                  payouts=(pd.concat(payouts, ignore_index=True) if payouts
                           else pd.DataFrame(columns=PAYOUT_COLUMNS)),
                  adjustments=adj, new_payout_months=new_months)


# ------------------------------------------------------------------------------- reconciliation

class PayoutMismatch(ValueError):
    pass


def reconcile(ledger: Ledger, read: MonthReader) -> list[str]:
    """SPEC §6.1: for every VC, payouts made + pending adjustments = the latest (here: paid-to)
    versions' totals of the months paid, within 0.01 SEK per payout. Returns the failures."""
    latest: dict[str, float] = {}
    for month, version in ledger.paid_versions.items():
        for vc, total in read(month, version)[0].groupby("vardcentral_hsa_id")["total"].sum().items():
            latest[vc] = latest.get(vc, 0.0) + float(total)
    paid = ledger.payouts.groupby("vardcentral_hsa_id")["amount_to_pay"].agg(["sum", "count"])
    pending = ledger.pending().groupby("vardcentral_hsa_id")["amount"].sum()
    failures = []
    for vc in sorted(set(latest) | set(paid.index) | set(pending.index)):
        made = float(paid.at[vc, "sum"]) if vc in paid.index else 0.0
        count = int(paid.at[vc, "count"]) if vc in paid.index else 0
        owed = float(pending.get(vc, 0.0))
        if abs(made + owed - latest.get(vc, 0.0)) > RECONCILIATION_TOLERANCE_SEK * max(count, 1) + ZERO_SEK:
            failures.append(f"{vc}: paid {made:.2f} + pending {owed:.2f} ≠ months' totals {latest.get(vc, 0.0):.2f}")
    return failures


# ------------------------------------------------------------------------------------- files

def _sek(amount: float) -> str:
    return f"{round_ore(amount):.2f}".replace(".", ",")


def payment_file_bytes(payouts: pd.DataFrame, names: dict[str, str]) -> bytes:
    """The payment file: semicolon-separated, UTF-8 with BOM, decimal comma, one row per VC."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(PAYMENT_FILE_HEADER)
    for row in payouts.sort_values("vardcentral_hsa_id").itertuples(index=False):
        writer.writerow([row.vardcentral_hsa_id, names.get(row.vardcentral_hsa_id) or "", row.provider_name or "",
                         row.provider_org_number or "", _sek(row.amount_to_pay), _sek(row.adjustments_total)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def check_payment_file(data: bytes, payouts: pd.DataFrame) -> list[str]:
    """Whether the file adds up to its payout rows (same VCs, same amounts to the öre, same sum)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    if not rows or rows[0] != PAYMENT_FILE_HEADER:
        return ["payment file: unexpected header"]
    in_file = {r[0]: Decimal(r[4].replace(",", ".")) for r in rows[1:] if r}
    expected = {r.vardcentral_hsa_id: Decimal(repr(round_ore(r.amount_to_pay))) for r in payouts.itertuples()}
    failures = [f"payment file: {vc} pays {in_file.get(vc)} but the payout row {expected.get(vc)}"
                for vc in sorted(set(in_file) | set(expected)) if in_file.get(vc) != expected.get(vc)]
    if sum(in_file.values(), Decimal(0)) != sum(expected.values(), Decimal(0)):
        failures.append("payment file: its sum differs from the payout rows'")
    return failures


def payment_file_name(month: str) -> str:
    return f"betalfil_{month}.csv"


def load_ledger(published: Path) -> Ledger:
    root = published / PAYOUTS_DIR
    ledger = Ledger()
    if (root / LEDGER).exists():
        ledger.paid_versions = {m: int(v) for m, v in
                                json.loads((root / LEDGER).read_text(encoding="utf-8"))["paid_versions"].items()}
    files = sorted(root.glob("*/payouts.parquet"))
    if files:
        ledger.payouts = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    if (root / ADJUSTMENTS_FILE).exists():
        ledger.adjustments = pq.read_table(root / ADJUSTMENTS_FILE).to_pandas()
    return ledger


def write_ledger(ledger: Ledger, stage: Path, names: dict[str, dict[str, str]]) -> tuple[list[Path], dict]:
    """Write the ledger's changed files into `stage` (the commit's folder) at their paths under
    published/; return them and, per new payout month, its file's manifest entry. `names` is
    month → {hsa_id: unit name}."""
    root = stage / PAYOUTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    written, entries = [], {}
    for month in ledger.new_payout_months:
        rows = ledger.payouts[ledger.payouts["payout_month"] == month].sort_values("vardcentral_hsa_id")
        (root / month).mkdir(parents=True, exist_ok=True)
        table = root / month / "payouts.parquet"
        pq.write_table(pa.Table.from_pandas(rows.reset_index(drop=True), schema=PAYOUT_SCHEMA,
                                            preserve_index=False), str(table))
        data = payment_file_bytes(rows, names.get(month, {}))
        failures = check_payment_file(data, rows)
        if failures:
            raise PayoutMismatch(f"the payout of {month} was not made: " + "; ".join(failures))
        csv_path = root / month / payment_file_name(month)
        csv_path.write_bytes(data)
        written += [table, csv_path]
        entries[month] = {"file": f"{PAYOUTS_DIR}/{month}/{csv_path.name}",
                          "sha256": hashlib.sha256(data).hexdigest(), "rows": len(rows),
                          "amount_to_pay": float(sum(Decimal(repr(v)) for v in rows["amount_to_pay"])),
                          "adjustments_total": float(rows["adjustments_total"].sum())}
    adj = ledger.adjustments.reset_index(drop=True)
    adj = adj.astype({"from_version": "int32", "to_version": "int32", "amount": "float64"}) if not adj.empty else adj
    pq.write_table(pa.Table.from_pandas(adj, schema=ADJUSTMENT_SCHEMA, preserve_index=False),
                   str(root / ADJUSTMENTS_FILE))
    (root / LEDGER).write_text(json.dumps({"paid_versions": ledger.paid_versions}, indent=2, sort_keys=True) + "\n",
                               encoding="utf-8")
    written += [root / ADJUSTMENTS_FILE, root / LEDGER]
    return written, entries


def create_tables(con, ledger: Ledger) -> None:
    """`payouts` and `reimbursement_adjustments` in a published.duckdb being built."""
    payouts = pa.Table.from_pandas(ledger.payouts.reset_index(drop=True), schema=PAYOUT_SCHEMA, preserve_index=False)
    adj = ledger.adjustments.reset_index(drop=True)
    adj = adj.astype({"from_version": "int32", "to_version": "int32", "amount": "float64"}) if not adj.empty else adj
    adjustments = pa.Table.from_pandas(adj, schema=ADJUSTMENT_SCHEMA, preserve_index=False)
    # as the monthly tables: a month also as a date; the payment time as a timestamp
    for name, table, select, keys in (
            ("payouts", payouts, "select * replace (cast(paid_at as timestamptz) as paid_at)",
             "payout_month, vardcentral_hsa_id"),
            ("reimbursement_adjustments", adjustments,
             "select *, cast(month || '-01' as date) as month_start",
             "month, to_version, vardcentral_hsa_id, component")):
        con.register("_ledger_rows", table)
        try:
            con.execute(f'create or replace table "{name}" as {select} from _ledger_rows order by {keys}')
        finally:
            con.unregister("_ledger_rows")
