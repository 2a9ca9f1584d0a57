"""The monthly report: a self-contained HTML page with charts (matplotlib, Agg, imported lazily).

Charts: listed per VC (horizontal bars, sorted); each goal indicator and the key indicators for
the region over the last 13 months against the target (region line + target line);
reimbursement per VC by component (stacked bars). A per-VC chart of more than MAX_BARS VCs
shows the smallest and largest around a gap row (`_bars_shown`). The PNGs are written beside the HTML and
embedded in it as base64, so the HTML can be mailed alone.
"""
from __future__ import annotations

import base64
import html
import io
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.parallel import map_forked
from orchestration.defs.publication.statements import COMPONENTS, INDICATOR_SV, PROFESSION_SV, _month_sv
from orchestration.defs.publication.tables import check_month, previous_month, table_exists

# A per-VC bar chart stays readable up to about this many bars; beyond it (a national body's
# ~850 VCs drew a 4 MB, 300-inch-tall PNG in ~20 s) it shows the extremes at each end.
MAX_BARS = 60
SHOWN_AT_EACH_END = 25

KEY_INDICATORS = [("phone_same_day_share", "all"), ("assessment_3d_share", "all"), ("fast_lakare_share", "all"),
                  ("coverage_ratio", "all"), ("continuity_doctor", "all")]


@dataclass
class ReportResult:
    html_path: Path
    png_paths: list[Path] = field(default_factory=list)
    markdown_summary: str = ""


def _months_back(month: str, n: int) -> list[str]:
    months = [month]
    while len(months) < n:
        months.append(previous_month(months[-1]))
    return list(reversed(months))


def _kr(value: float) -> str:
    return f"{value:,.0f} kr".replace(",", "\u00a0")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save_fig(fig, path: Path) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data


def write_report(warehouse_path: Path, month: str, out_dir: Path) -> ReportResult:
    """Write <out_dir>/<YYYY-MM>/rapport_<YYYY-MM>.html and its PNG charts."""
    return write_reports(warehouse_path, [month], out_dir)[0]


def write_reports(warehouse_path: Path, months: list[str], out_dir: Path) -> list[ReportResult]:
    """The reports of one or more months: data read here, every chart of every month drawn
    over the cores (a single month has ~9 charts, ~0.3 s each), pages assembled here."""
    inputs = [_load_report_inputs(warehouse_path, month) for month in months]
    jobs = [(i, chart) for i, item in enumerate(inputs) for chart in _charts(item)]
    _plt()  # imported once, before the workers fork
    drawn = map_forked(lambda job: _draw(inputs[job[0]], job[1], out_dir), jobs, min_items_per_worker=1)
    per_month: list[list[Chart]] = [[] for _ in inputs]
    for (i, _), chart in zip(jobs, drawn):
        per_month[i].append(chart)
    return [_write_page(item, charts, out_dir) for item, charts in zip(inputs, per_month)]


def _load_report_inputs(warehouse_path: Path, month: str) -> dict:
    check_month(month)
    months = _months_back(month, 13)
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        schema = "marts" if table_exists(con, "marts", "reimbursement_monthly") else "main"
        reimb = con.sql(f"select * from {schema}.reimbursement_monthly where month = '{month}'").df()
        units = con.sql(f"select hsa_id, name from {schema}.vardcentraler").df()
        month_list = ", ".join(f"'{m}'" for m in months)
        region = con.sql(f"select month, indicator_code, profession, value, numerator, denominator "
                         f"from {schema}.indicators_monthly where vardcentral_hsa_id = 'REGION' and sex = 'all' "
                         f"and month in ({month_list})").df()
        goals = None
        if table_exists(con, schema, "reimbursement_goals_monthly"):
            goals = con.sql(f"select month, indicator, profession, payout, any_value(low) as low, "
                            f"any_value(high) as high from {schema}.reimbursement_goals_monthly "
                            f"where month in ({month_list}) group by all order by all").df()
    finally:
        con.close()
    return {"month": month, "months": months, "reimb": reimb, "units": units, "region": region, "goals": goals}


@dataclass
class Chart:
    path: Path
    title: str
    caption: str
    png: bytes


def _charts(inputs: dict) -> list[tuple]:
    """The month's charts in page order: listed per VC, each goal and key indicator, the
    reimbursement by component."""
    region, goals = inputs["region"], inputs["goals"]
    wanted: list[tuple[str, str]] = []
    if goals is not None and not goals.empty:
        for _, g in goals[goals["month"] == goals["month"].max()].iterrows():
            wanted.append((g["indicator"], g["profession"]))
    for item in KEY_INDICATORS:
        if item not in wanted:
            wanted.append(item)
    indicators = [("indicator", code, prof) for code, prof in wanted
                  if ((region["indicator_code"] == code) & (region["profession"] == prof)).any()]
    return [("listed",), *indicators, ("reimbursement",)]


def _draw(inputs: dict, chart: tuple, out_dir: Path) -> Chart:
    plt = _plt()
    fig, filename, title, caption = _DRAWERS[chart[0]](plt, inputs, *chart[1:])
    path = Path(out_dir) / inputs["month"] / filename
    png = _save_fig(fig, path)
    plt.close(fig)
    return Chart(path, title, caption, png)


def _names(inputs: dict) -> dict:
    units = inputs["units"]
    return dict(zip(units["hsa_id"], units["name"]))


def _bars_shown(frame: pd.DataFrame, sort_by: str, names: dict) -> tuple[pd.DataFrame, str]:
    """The rows of a per-VC bar chart in bar order (smallest first), labelled with names. More
    than MAX_BARS rows keep the SHOWN_AT_EACH_END smallest and largest around a gap row (zero
    values, label naming how many are left out); the caption says where the full list is."""
    frame = frame.copy()
    frame["label"] = [names.get(v, v) for v in frame["vardcentral_hsa_id"]]
    frame = frame.sort_values([sort_by, "vardcentral_hsa_id"], kind="stable").reset_index(drop=True)
    frame["is_gap"] = False
    total = len(frame)
    if total <= MAX_BARS:
        return frame, ""
    left_out = total - 2 * SHOWN_AT_EACH_END
    gap = {column: 0 for column in frame.columns if pd.api.types.is_numeric_dtype(frame[column])}
    gap.update(vardcentral_hsa_id="", label=f"… {left_out} vårdcentraler till …", is_gap=True)
    frame = pd.concat([frame.head(SHOWN_AT_EACH_END), pd.DataFrame([gap]), frame.tail(SHOWN_AT_EACH_END)],
                      ignore_index=True)
    return frame, (f"De {SHOWN_AT_EACH_END} minsta och {SHOWN_AT_EACH_END} största av {total} "
                   "vårdcentraler; alla finns i tabellen ovan och i de publicerade tabellerna.")


def _listed_chart(plt, inputs: dict):
    month, reimb = inputs["month"], inputs["reimb"]
    listed, caption = _bars_shown(reimb[["vardcentral_hsa_id", "listed_count"]], "listed_count", _names(inputs))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(listed) + 1)))
    ax.barh(listed["label"], listed["listed_count"], color="#2b6a9f")
    ax.set_xlabel("Antal listade")
    ax.set_title(f"Listade per vårdcentral, {_month_sv(month)}")
    for y, (value, is_gap) in enumerate(zip(listed["listed_count"], listed["is_gap"])):
        if not is_gap:
            ax.text(value, y, f" {int(value):,}".replace(",", "\u00a0"), va="center", fontsize=8)
    return fig, f"listade_{month}.png", "Listade per vårdcentral", caption


def _indicator_chart(plt, inputs: dict, code: str, prof: str):
    month, months, region, goals = (inputs[k] for k in ("month", "months", "region", "goals"))
    series = region[(region["indicator_code"] == code) & (region["profession"] == prof)]
    series = series.set_index("month").reindex(months)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = list(range(len(months)))
    ax.plot(x, series["value"].astype(float), marker="o", color="#2b6a9f", label="Regionen")
    target_text = ""
    if goals is not None and not goals.empty:
        g = goals[(goals["indicator"] == code) & (goals["profession"] == prof)].set_index("month").reindex(months)
        if g["high"].notna().any():
            ax.step(x, g["high"].astype(float), where="mid", color="#c0392b", linestyle="--", label="Mål")
            target_text = f"mål {g['high'].dropna().iloc[-1]:.0%}"
        if g["low"].notna().any():
            ax.step(x, g["low"].astype(float), where="mid", color="#e67e22", linestyle=":",
                    label="Nedre gräns")
    ax.set_xticks(x, [m[2:] for m in months], rotation=45, fontsize=8)
    is_share = not code.startswith("continuity")
    if is_share:
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylim(0, 1.05)
    label = INDICATOR_SV.get(code, code) + ("" if prof == "all" else f" ({PROFESSION_SV.get(prof, prof)})")
    ax.set_title(f"{label}, senaste 13 månaderna")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return (fig, f"indikator_{code}_{prof}_{month}.png", label,
            f"Regionens värde per månad{'; ' + target_text if target_text else ''}. "
            "Månader utan data visas som luckor.")


def _reimbursement_chart(plt, inputs: dict):
    month = inputs["month"]
    frame, caption = _bars_shown(inputs["reimb"], "total", _names(inputs))
    fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(frame) + 1.5)))
    left_pos = [0.0] * len(frame)
    left_neg = [0.0] * len(frame)
    cmap = plt.get_cmap("tab20")
    for i, (column, label) in enumerate(COMPONENTS):
        values = frame[column].astype(float).tolist()
        if not any(abs(v) > 0 for v in values):
            continue
        lefts = [lp if v >= 0 else ln for v, lp, ln in zip(values, left_pos, left_neg)]
        ax.barh(frame["label"], values, left=lefts, color=cmap(i), label=label)
        left_pos = [lp + max(v, 0) for v, lp in zip(values, left_pos)]
        left_neg = [ln + min(v, 0) for v, ln in zip(values, left_neg)]
    if len(frame):
        # Stacked offsets are not always in the autoscaled limits: set them from the stacks.
        ax.set_xlim(min(left_neg) * 1.05, max(left_pos) * 1.03)
    ax.set_xlabel("Kronor")
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}".replace(",", " ")))
    ax.set_title(f"Ersättning per vårdcentral och komponent, {_month_sv(month)}")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3)
    return fig, f"ersattning_{month}.png", "Ersättning per vårdcentral och komponent", caption


_DRAWERS = {"listed": _listed_chart, "indicator": _indicator_chart, "reimbursement": _reimbursement_chart}


def _write_page(inputs: dict, charts: list[Chart], out_dir: Path) -> ReportResult:
    month, reimb, names = inputs["month"], inputs["reimb"], _names(inputs)
    folder = Path(out_dir) / month
    folder.mkdir(parents=True, exist_ok=True)
    sections = [f"<h2>{html.escape(c.title)}</h2>"
                f"<img alt='{html.escape(c.title)}' src='data:image/png;base64,"
                f"{base64.b64encode(c.png).decode()}'/>"
                + (f"<p class='note'>{html.escape(c.caption)}</p>" if c.caption else "")
                for c in charts]
    pngs = [c.path for c in charts]

    # table + markdown summary
    rows = reimb.sort_values("vardcentral_hsa_id")
    table_rows = "".join(
        f"<tr><td>{html.escape(r.vardcentral_hsa_id)}</td><td>{html.escape(str(names.get(r.vardcentral_hsa_id, '')))}"
        f"</td><td class='n'>{int(r.listed_count):,}</td><td class='n'>{_kr(r.total)}</td></tr>".replace(",", "\u00a0")
        for r in rows.itertuples())
    total_listed = int(reimb["listed_count"].sum()) if not reimb.empty else 0
    total_sek = float(reimb["total"].sum()) if not reimb.empty else 0.0
    md = ["| vårdcentral | listade | ersättning |", "|---|---:|---:|"]
    md += [f"| {names.get(r.vardcentral_hsa_id, r.vardcentral_hsa_id)} | {int(r.listed_count)} | {_kr(r.total)} |"
           for r in rows.itertuples()]
    md.append(f"| **Regionen** | **{total_listed}** | **{_kr(total_sek)}** |")
    page = f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Månadsrapport {month}</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}td.n{{text-align:right}}
img{{max-width:100%}}.note{{color:#666;font-size:90%}}</style></head><body>
<h1>Vårdval primärvård – månadsrapport {html.escape(_month_sv(month))}</h1>
<p>{len(reimb)} vårdcentraler, {total_listed:,} listade, total ersättning {_kr(total_sek)}.</p>
<table><tr><th>HSA-id</th><th>Vårdcentral</th><th>Listade</th><th>Ersättning</th></tr>{table_rows}</table>
{''.join(sections)}
</body></html>""".replace(f"{total_listed:,}", f"{total_listed:,}".replace(",", "\u00a0"))
    html_path = folder / f"rapport_{month}.html"
    tmp = html_path.with_name(f".{html_path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, html_path)
    return ReportResult(html_path, pngs, "\n".join(md))
