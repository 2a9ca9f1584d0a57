"""What changed between two versions of a month, in Swedish markdown (SPEC §7: "a correction
gives version N+1 and a readable diff against N"), written beside the new version as
`diff_from_v<N>.md`: rows per table, reimbursement per VC and figure, indicators per VC.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from core.published_tables import PUBLISHED_TABLES
from core.vocabulary import COMPONENTS as REIMBURSEMENT_COMPONENTS
from sources.reimbursement_model import AMOUNT_TOLERANCE_SEK

DIFF_ROW_LIMIT = 200


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.2f}".replace(",", " ")
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def _delta(old, new) -> str:
    if old is None or new is None:
        return "—"
    change = new - old
    text = _fmt(float(change))
    text = f"+{text}" if change > 0 else text
    if old:
        text += f" ({change / abs(old):+.2%})"
    return text


def build_diff(old_dir: Path, new_dir: Path, month: str, old_version: int, new_version: int,
               names: dict[str, str] | None = None) -> str:
    """A readable markdown diff between two versions of a month."""
    names = names or {}
    con = duckdb.connect()
    lines = [f"# {month}: ändringar v{old_version} → v{new_version}", ""]
    try:
        def rel(directory: Path, table: str) -> str:
            return f"read_parquet('{directory / f'{table}.parquet'}')"

        lines += ["## Rader per tabell", "", "| tabell | rader v%d | rader v%d | ändrade rader |" % (old_version, new_version),
                  "|---|---:|---:|---:|"]
        for table in PUBLISHED_TABLES:
            if not (old_dir / f"{table}.parquet").exists():   # a table the old version did not publish
                new_rows = con.execute(f"select count(*) from {rel(new_dir, table)}").fetchall()[0][0]
                lines.append(f"| {table} | — | {new_rows} | ny tabell |")
                continue
            old_rows = con.execute(f"select count(*) from {rel(old_dir, table)}").fetchall()[0][0]
            new_rows = con.execute(f"select count(*) from {rel(new_dir, table)}").fetchall()[0][0]
            try:
                changed = con.execute(f"select count(*) from (select * from {rel(new_dir, table)} except all "
                                      f"select * from {rel(old_dir, table)})").fetchall()[0][0]
            except duckdb.Error:
                changed = "schema changed"
            lines.append(f"| {table} | {old_rows} | {new_rows} | {changed} |")
        lines.append("")

        # reimbursement per VC and figure
        figures = ["listed_count", *REIMBURSEMENT_COMPONENTS, "total"]
        o = con.sql(f"select * from {rel(old_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        n = con.sql(f"select * from {rel(new_dir, 'reimbursement_monthly')}").df().set_index("vardcentral_hsa_id")
        changes = []
        for vc in sorted(set(o.index) | set(n.index)):
            if vc not in o.index:
                changes.append((vc, "(ny vårdcentral)", None, float(n.at[vc, "total"])))
                continue
            if vc not in n.index:
                changes.append((vc, "(vårdcentral borttagen)", float(o.at[vc, "total"]), None))
                continue
            for f in figures:
                if f not in o.columns or f not in n.columns:
                    continue
                a, b = o.at[vc, f], n.at[vc, f]
                a = None if a is None or a != a else float(a)
                b = None if b is None or b != b else float(b)
                if (a is None) != (b is None) or (a is not None and abs(a - b) >= AMOUNT_TOLERANCE_SEK):
                    changes.append((vc, f, a, b))
        lines += ["## Ersättning per vårdcentral (reimbursement_monthly)", ""]
        if changes:
            lines += ["| vårdcentral | namn | belopp | gammalt | nytt | förändring |", "|---|---|---|---:|---:|---:|"]
            for vc, f, a, b in changes:
                lines.append(f"| {vc} | {names.get(vc, '')} | {f} | {_fmt(a)} | {_fmt(b)} | {_delta(a, b)} |")
        else:
            lines.append("Inga ändringar.")
        lines.append("")

        # indicators per VC
        keys = ["vardcentral_hsa_id", "indicator_code", "sex", "profession"]
        join = " and ".join(f"o.{k} is not distinct from n.{k}" for k in keys)
        ind = con.sql(f"""
            select coalesce(n.vardcentral_hsa_id, o.vardcentral_hsa_id) as vc,
                   coalesce(n.indicator_code, o.indicator_code) as code, coalesce(n.sex, o.sex) as sex,
                   coalesce(n.profession, o.profession) as profession,
                   o.numerator as old_num, n.numerator as new_num, o.denominator as old_den,
                   n.denominator as new_den, o.value as old_value, n.value as new_value,
                   o.month is null as added, n.month is null as removed
            from {rel(old_dir, 'indicators_monthly')} o full outer join {rel(new_dir, 'indicators_monthly')} n
              on {join}
            where o.month is null or n.month is null
               or o.numerator is distinct from n.numerator or o.denominator is distinct from n.denominator
               or (o.value is distinct from n.value and coalesce(abs(o.value - n.value), 1) > 1e-12)
            order by vc, code, sex, profession""").fetchall()
        lines += ["## Indikatorer per vårdcentral (indicators_monthly)", ""]
        if ind:
            lines += ["| vårdcentral | indikator | kön | yrke | gammalt värde (täljare/nämnare) | nytt värde "
                      "(täljare/nämnare) | förändring |", "|---|---|---|---|---:|---:|---:|"]
            for row in ind[:DIFF_ROW_LIMIT]:
                vc, code, sex, prof, on, nn, od, nd, ov, nv, added, removed = row
                old = "—" if added else f"{_fmt(ov)} ({_fmt(on)}/{_fmt(od)})"
                new = "—" if removed else f"{_fmt(nv)} ({_fmt(nn)}/{_fmt(nd)})"
                lines.append(f"| {vc} | {code} | {sex} | {prof} | {old} | {new} | {_delta(ov, nv)} |")
            if len(ind) > DIFF_ROW_LIMIT:
                lines.append(f"\n… och {len(ind) - DIFF_ROW_LIMIT} ändrade indikatorrader till.")
        else:
            lines.append("Inga ändringar.")
        lines.append("")
    finally:
        con.close()
    return "\n".join(lines)

