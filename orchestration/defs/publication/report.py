"""The monthly report: a self-contained HTML page with charts (matplotlib, Agg, imported lazily).

Sections: the region in figures; data quality and warnings (quarantined rows per file and
reason, exceptions of the reimbursement computation, plausibility warnings such as a VC whose
listed count changed by PLAUSIBLE_CHANGE or more since the month before); listed per VC
(horizontal bars, sorted); each goal indicator and the key indicators over the last 13 months
against the target as small multiples, one panel per VC after the region's, each with female
and male beside all (shares in %, continuity as an index 0–1 with its target in the same unit);
reimbursement per VC by component (stacked bars). A per-VC chart of more than MAX_BARS VCs shows
the smallest and largest around a gap row (`_bars_shown`); small multiples of more than
MAX_PANELS VCs show those furthest from the target. The PNGs are written beside the HTML and
embedded in it as base64, so the HTML can be mailed alone. A file whose bytes did not change is
left untouched.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.labels import (
    EXCEPTION_SV,
    SEX_SV,
    components_of,
    format_value,
    indicator_kind,
    indicator_label,
    month_short,
    window_note,
)
from core.labels import month_sv as _month_sv
from core.months import check_month, previous_month
from core.warehouse import table_exists
from orchestration.defs.publication.statement_inputs import Source, months_back, registry_sql
from orchestration.defs.publication.targets import direction_of, shortfall, status
from orchestration.defs.publication.workbook import write_if_changed
from orchestration.runtime.parallel import map_forked

# A per-VC bar chart stays readable up to about this many bars; beyond it (a national body's
# ~850 VCs drew a 4 MB, 300-inch-tall PNG in ~20 s) it shows the extremes at each end.
MAX_BARS = 60
SHOWN_AT_EACH_END = 25

MAX_PANELS = 36            # small multiples: the region and at most 35 VCs (those furthest from the target)
PANEL_COLUMNS = 6
PLAUSIBLE_CHANGE = 0.5     # a VC's listed count changing by half or more in a month is worth a look
SEX_STYLE = {"all": dict(color="#2b6a9f", linewidth=1.6), "female": dict(color="#c2185b", linewidth=0.9, linestyle="--"),
             "male": dict(color="#00897b", linewidth=0.9, linestyle="--")}

KEY_INDICATORS = [("phone_same_day_share", "all"), ("assessment_3d_share", "all"), ("fast_lakare_share", "all"),
                  ("coverage_ratio", "all"), ("continuity_doctor", "all")]


@dataclass
class ReportResult:
    html_path: Path
    png_paths: list[Path] = field(default_factory=list)
    markdown_summary: str = ""


def _kr(value: float) -> str:
    return f"{value:,.0f} kr".replace(",", "\u00a0")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, tight: bool = True) -> bytes:
    """The figure as PNG bytes, the same on every run (no software tag)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight" if tight else None, metadata={"Software": None})
    return buffer.getvalue()


def _save_fig(fig, path: Path, tight: bool = True) -> bytes:
    data = png_bytes(fig, tight)
    write_if_changed(path, data)
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
    months = months_back(month, 13)
    src = Source(Path(warehouse_path))
    con, schema = src.con, src.schema
    try:
        reimb = con.sql(f"select * from {schema}.reimbursement_monthly where month = '{month}'").df()
        previous = con.sql(f"select vardcentral_hsa_id, listed_count from {schema}.reimbursement_monthly "
                           f"where month = '{previous_month(month)}'").df()
        units = src.df(f"select hsa_id, name from ({registry_sql(src, month)})")
        month_list = ", ".join(f"'{m}'" for m in months)
        indicators = con.sql(f"select month, vardcentral_hsa_id, indicator_code, sex, profession, value, "
                             f"window_months from {schema}.indicators_monthly where month in ({month_list})").df()
        region = indicators[(indicators["vardcentral_hsa_id"] == "REGION") & (indicators["sex"] == "all")]
        goals = None
        if table_exists(con, schema, "reimbursement_goals_monthly"):
            goals = con.sql(f"select month, indicator, profession, payout, any_value(low) as low, "
                            f"any_value(high) as high from {schema}.reimbursement_goals_monthly "
                            f"where month in ({month_list}) group by all order by all").df()
        quality = con.sql(f"select * from {schema}.data_quality_monthly where month = '{month}'").df() \
            if table_exists(con, schema, "data_quality_monthly") else None
        exceptions = con.sql(f"select exception, count(*) as vc_count, sum(item_count) as item_count "
                             f"from {schema}.reimbursement_exceptions_monthly where month = '{month}' "
                             f"group by all order by all").df() \
            if table_exists(con, schema, "reimbursement_exceptions_monthly") else None
    finally:
        src.close()
    return {"month": month, "months": months, "reimb": reimb, "units": units, "region": region, "goals": goals,
            "indicators": indicators, "previous": previous, "quality": quality, "exceptions": exceptions}


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
    png = _save_fig(fig, path, tight=chart[0] != "indicator")
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


def _targets_of(inputs: dict, code: str, prof: str) -> pd.DataFrame:
    """low, high and direction per month of the 13 (empty rows where no target applies)."""
    goals, months = inputs["goals"], inputs["months"]
    frame = pd.DataFrame(index=months, columns=["low", "high"], dtype=float)
    if goals is not None and not goals.empty:
        g = goals[(goals["indicator"] == code) & (goals["profession"] == prof)].set_index("month")
        frame.update(g[["low", "high"]].astype(float))
    return frame


def _panels(inputs: dict, code: str, prof: str, targets: pd.DataFrame) -> tuple[list[str], str]:
    """The region, then the VCs (all of them up to MAX_PANELS, else those furthest from the target)."""
    vcs = sorted(inputs["reimb"]["vardcentral_hsa_id"])
    if len(vcs) + 1 <= MAX_PANELS:
        return ["REGION", *vcs], ""
    ind = inputs["indicators"]
    latest = ind[(ind["month"] == inputs["month"]) & (ind["indicator_code"] == code) & (ind["profession"] == prof)
                 & (ind["sex"] == "all") & ind["vardcentral_hsa_id"].isin(vcs)]
    high, low = targets["high"].iloc[-1], targets["low"].iloc[-1]
    direction = direction_of(low, high)
    if pd.isna(high):   # no target: the smallest values (largest where lower is better is not known)
        ranked = latest.sort_values(["value", "vardcentral_hsa_id"])
    else:
        latest = latest.assign(gap=[shortfall(v, high, direction) for v in latest["value"]])
        ranked = latest.sort_values(["gap", "vardcentral_hsa_id"], ascending=[False, True])
    shown = list(ranked["vardcentral_hsa_id"].head(MAX_PANELS - 1))
    return ["REGION", *shown], (f"Regionen och de {len(shown)} av {len(vcs)} vårdcentraler som ligger längst "
                                "från målet (eller lägst); alla finns i regionens arbetsbok och i de publicerade "
                                "tabellerna.")



STATUS_COLOUR = {"missed": "#c0392b", "close": "#9a7d0a"}   # a panel's title by its target status


def panel_labels(ax, box: tuple[float, float, float, float], title: str, is_region: bool, state: str | None,
                 kind: str, scale: float, axis_gap: float | None) -> None:
    """A small-multiple panel's title (coloured by its status against the target), its scale for
    counts and ratios, and, with `axis_gap`, the value axis left of it (shares and indices)."""
    x0, y0, width, height = box
    ax.text(x0, y0 + height + 0.06, title[:30], fontsize=7, va="bottom", color=STATUS_COLOUR.get(state, "#222"),
            fontweight="bold" if is_region or state == "missed" else "normal")
    if kind in ("count", "ratio"):
        ax.text(x0 + width, y0 + height + 0.06, f"max {format_value(scale / 1.1, kind)}", fontsize=5.5,
                ha="right", va="bottom", color="#666")
    if axis_gap is not None:
        for frac in (0.0, 0.5, 1.0):
            label = {"share": f"{frac * 100:.0f} %", "index": f"{frac:.1f}".replace(".", ",")}.get(kind, "")
            ax.text(x0 - axis_gap, y0 + frac * height, label, fontsize=6, ha="right", va="center", color="#444")

def _indicator_chart(plt, inputs: dict, code: str, prof: str):
    """Small multiples: the region's panel and each VC's, 13 months, all/female/male against the
    target. Drawn on one axes (panels side by side in data coordinates): a figure of 36 axes
    costs seconds, this one a fraction of a second."""
    month, months = inputs["month"], inputs["months"]
    kind = indicator_kind(code)
    targets = _targets_of(inputs, code, prof)
    ind = inputs["indicators"]
    ind = ind[(ind["indicator_code"] == code) & (ind["profession"] == prof)]
    series = {(vc, sex): dict(zip(group["month"], group["value"]))
              for (vc, sex), group in ind.groupby(["vardcentral_hsa_id", "sex"])}
    panels, panel_note = _panels(inputs, code, prof, targets)
    names = _names(inputs)
    n_rows = -(-len(panels) // PANEL_COLUMNS)
    width, height, gap_x, gap_y = len(months) - 1, 1.0, 3.2, 0.62
    high = targets["high"].astype(float).tolist()
    low = targets["low"].astype(float).tolist()
    direction = direction_of(targets["low"].iloc[-1], targets["high"].iloc[-1])
    fig = plt.figure(figsize=(11, 1.32 * n_rows + 0.8))
    ax = fig.add_axes((0.045, 0.02, 0.95, 1 - 0.7 / (1.32 * n_rows + 0.8)))
    ax.set_axis_off()
    lines = {key: ([], []) for key in ("female", "male", "all", "high", "low", "grid", "frame")}

    def add(key, xs, ys):
        lines[key][0].extend([*xs, float("nan")])
        lines[key][1].extend([*ys, float("nan")])

    def scale_of(vc) -> float:
        if kind not in ("count", "ratio"):
            return 1.0
        values = [v for sex in ("all",) for v in series.get((vc, sex), {}).values() if pd.notna(v)]
        return max(values) * 1.1 if values and max(values) > 0 else 1.0

    for i, vc in enumerate(panels):
        col, row = i % PANEL_COLUMNS, i // PANEL_COLUMNS
        x0, y0 = col * (width + gap_x), -row * (height + gap_y)
        scale = scale_of(vc)
        xs = [x0 + k for k in range(len(months))]
        add("frame", [x0, x0 + width, x0 + width, x0, x0], [y0, y0, y0 + height, y0 + height, y0])
        add("grid", [x0, x0 + width], [y0 + height / 2] * 2)
        for sex in ("female", "male", "all"):
            values = series.get((vc, sex), {})
            add(sex, xs, [y0 + float(values[m]) / scale if m in values and pd.notna(values[m]) else float("nan")
                          for m in months])
        if kind not in ("count", "ratio"):
            add("high", xs, [y0 + h for h in high])
            add("low", xs, [y0 + v for v in low])
        latest = series.get((vc, "all"), {}).get(month)
        state = status(float(latest), low[-1], high[-1], direction) if latest is not None and pd.notna(latest) \
            else None
        title = "Regionen" if vc == "REGION" else str(names.get(vc, vc))
        panel_labels(ax, (x0, y0, width, height), title, vc == "REGION", state, kind, scale,
                     axis_gap=0.3 if col == 0 else None)
        if row == n_rows - 1 or i + PANEL_COLUMNS >= len(panels):
            for k in (0, 6, 12):
                ax.text(x0 + k, y0 - 0.08, month_short(months[k]), fontsize=5.5, ha="center", va="top",
                        color="#444")
    ax.plot(*lines["frame"], color="#bbbbbb", linewidth=0.5)
    ax.plot(*lines["grid"], color="#dddddd", linewidth=0.5)
    ax.plot(*lines["low"], color="#e67e22", linewidth=0.8, linestyle=":", drawstyle="steps-mid")
    ax.plot(*lines["high"], color="#c0392b", linewidth=0.9, drawstyle="steps-mid")
    for sex in ("female", "male", "all"):
        ax.plot(*lines[sex], **SEX_STYLE[sex])
    ax.set_xlim(-1.2, PANEL_COLUMNS * (width + gap_x) - gap_x + 0.9)
    ax.set_ylim(-(n_rows - 1) * (height + gap_y) - 0.35, height + 0.3)
    label = indicator_label(code, prof)
    unit = {"share": "andel i %", "index": "index 0–1", "count": "antal", "ratio": "kvot"}[kind]
    handles = [plt.matplotlib.lines.Line2D([], [], **SEX_STYLE[s], label=SEX_SV[s]) for s in ("all", "female", "male")]
    if any(pd.notna(h) for h in high):
        handles.append(plt.matplotlib.lines.Line2D([], [], color="#c0392b", linewidth=0.9, label="Mål"))
    if any(pd.notna(v) for v in low):
        handles.append(plt.matplotlib.lines.Line2D([], [], color="#e67e22", linestyle=":", label="Nedre gräns"))
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=7, frameon=False)
    fig.text(0.01, 1 - 0.12 / (1.32 * n_rows + 0.8), f"{label} ({unit}), {month_short(months[0])}–{month_short(month)}",
             fontsize=10, va="top")
    target_text = ""
    if pd.notna(high[-1]):
        target_text = (f"Mål {'≤' if direction == 'lower' else '≥'} {format_value(high[-1], kind)}"
                       + (f", nedre gräns {format_value(low[-1], kind)}" if pd.notna(low[-1]) else "")
                       + ". Namn i rött: målet ej nått denna månad; i gult: nära.")
    region_latest = inputs["region"][(inputs["region"]["indicator_code"] == code)
                                     & (inputs["region"]["profession"] == prof) & (inputs["region"]["month"] == month)]
    window = window_note(code, region_latest["window_months"].iloc[0]) if not region_latest.empty else ""
    caption = " ".join(x for x in (
        f"Värde per månad för alla, kvinnor och män; {unit}.", target_text,
        f"Fönstret är inte fullt: {window}." if window else "", panel_note,
        "Månader utan data visas som luckor.") if x)
    return fig, f"indikator_{code}_{prof}_{month}.png", label, caption


def _reimbursement_chart(plt, inputs: dict):
    month = inputs["month"]
    frame, caption = _bars_shown(inputs["reimb"], "total", _names(inputs))
    fig, ax = plt.subplots(figsize=(9, max(3, 0.4 * len(frame) + 1.5)))
    left_pos = [0.0] * len(frame)
    left_neg = [0.0] * len(frame)
    cmap = plt.get_cmap("tab20")
    for i, (column, label) in enumerate(components_of(frame.columns)):
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


def plausibility_warnings(inputs: dict) -> list[str]:
    """Figures worth a second look before the month is paid: a VC whose listed count changed by
    PLAUSIBLE_CHANGE or more since the month before, a VC with nobody listed."""
    names = _names(inputs)
    before = dict(zip(inputs["previous"]["vardcentral_hsa_id"], inputs["previous"]["listed_count"]))
    warnings = []
    for r in inputs["reimb"].sort_values("vardcentral_hsa_id").itertuples():
        name = f"{names.get(r.vardcentral_hsa_id, r.vardcentral_hsa_id)} ({r.vardcentral_hsa_id})"
        previous = before.get(r.vardcentral_hsa_id)
        if int(r.listed_count) == 0:
            warnings.append(f"{name}: inga listade denna månad.")
        elif previous and abs(int(r.listed_count) - int(previous)) / int(previous) >= PLAUSIBLE_CHANGE:
            change = (int(r.listed_count) - int(previous)) / int(previous)
            warnings.append(f"{name}: antalet listade ändrades från {_int(previous)} till {_int(r.listed_count)} "
                            f"({change * 100:+.0f} %) sedan förra månaden.")
    return warnings


def _int(value) -> str:
    return f"{int(value):,}".replace(",", "\u00a0")


def _quality_section(inputs: dict) -> str:
    parts = ["<h2>Datakvalitet och varningar</h2>"]
    quality = inputs["quality"]
    if quality is not None and not quality.empty:
        files = quality.groupby(["source", "source_file"], sort=True).agg(
            rows_read=("rows_read", "max"), rows_accepted=("rows_accepted", "max"),
            rows_quarantined=("rows_quarantined", "max")).reset_index()
        rows = "".join(f"<tr><td>{html.escape(str(f.source_file))}</td><td class='n'>{_int(f.rows_read)}</td>"
                       f"<td class='n'>{_int(f.rows_accepted)}</td><td class='n'>{_int(f.rows_quarantined)}</td></tr>"
                       for f in files.itertuples())
        parts.append("<table><tr><th>Fil</th><th>Lästa rader</th><th>Godkända</th><th>I karantän</th></tr>"
                     f"{rows}</table>")
        reasons = quality[quality["reason"].notna()]
        if not reasons.empty:
            items = "".join(f"<li>{html.escape(str(q.source_file))}: {html.escape(str(q.reason))} – "
                            f"{_int(q.reason_rows)} rader</li>" for q in reasons.sort_values(
                                ["source_file", "reason"]).itertuples())
            parts.append(f"<p>Rader i karantän per orsak (fil, rad och orsak finns i karantänstabellen):</p>"
                         f"<ul>{items}</ul>")
        else:
            parts.append("<p>Inga rader i karantän denna månad.</p>")
    exceptions = inputs["exceptions"]
    if exceptions is not None and not exceptions.empty:
        items = "".join(
            f"<li>{html.escape(EXCEPTION_SV.get(e.exception, (e.exception, ''))[0])}: {_int(e.item_count)} "
            f"hos {_int(e.vc_count)} vårdcentraler ({html.escape(EXCEPTION_SV.get(e.exception, ('', ''))[1])})</li>"
            for e in exceptions.itertuples())
        parts.append(f"<p>Undantag i ersättningsberäkningen (per vårdcentral i ersättningsunderlagen):</p>"
                     f"<ul>{items}</ul>")
    warnings = plausibility_warnings(inputs)
    parts.append("<p>Rimlighetskontroller:</p><ul>" + ("".join(f"<li class='warn'>{html.escape(w)}</li>"
                                                                for w in warnings)
                 or f"<li>Inga avvikelser (antal listade per vårdcentral ändrades mindre än "
                    f"{PLAUSIBLE_CHANGE * 100:.0f} % sedan förra månaden).</li>") + "</ul>")
    return "\n".join(parts)


def _components_table(reimb: pd.DataFrame) -> str:
    rows = "".join(f"<tr><td>{html.escape(label)}</td><td class='n'>{_kr(float(reimb[column].sum()))}</td></tr>"
                   for column, label in components_of(reimb.columns))
    total = float(reimb["total"].sum()) if not reimb.empty else 0.0
    return (f"<table><tr><th>Komponent</th><th>Regionen</th></tr>{rows}"
            f"<tr><th>Summa</th><th class='n'>{_kr(total)}</th></tr></table>")


def _write_page(inputs: dict, charts: list[Chart], out_dir: Path) -> ReportResult:
    month, reimb, names = inputs["month"], inputs["reimb"], _names(inputs)
    folder = Path(out_dir) / month
    folder.mkdir(parents=True, exist_ok=True)

    def section(c: Chart) -> str:
        return (f"<h2>{html.escape(c.title)}</h2><img alt='{html.escape(c.title)}' src='data:image/png;base64,"
                f"{base64.b64encode(c.png).decode()}'/>"
                + (f"<p class='note'>{html.escape(c.caption)}</p>" if c.caption else ""))

    indicator_charts = [c for c in charts if c.path.name.startswith("indikator_")]
    other = {c.path.name.split("_")[0]: c for c in charts if not c.path.name.startswith("indikator_")}
    pngs = [c.path for c in charts]

    # table + markdown summary
    rows = reimb.sort_values("vardcentral_hsa_id")
    table_rows = "".join(
        f"<tr><td>{html.escape(r.vardcentral_hsa_id)}</td><td>{html.escape(str(names.get(r.vardcentral_hsa_id, '')))}"
        f"</td><td class='n'>{_int(r.listed_count)}</td><td class='n'>{_kr(r.total)}</td></tr>"
        for r in rows.itertuples())
    total_listed = int(reimb["listed_count"].sum()) if not reimb.empty else 0
    total_sek = float(reimb["total"].sum()) if not reimb.empty else 0.0
    md = ["| vårdcentral | listade | ersättning |", "|---|---:|---:|"]
    md += [f"| {names.get(r.vardcentral_hsa_id, r.vardcentral_hsa_id)} | {int(r.listed_count)} | {_kr(r.total)} |"
           for r in rows.itertuples()]
    md.append(f"| **Regionen** | **{total_listed}** | **{_kr(total_sek)}** |")
    page = f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Månadsrapport {month}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0}}td,th{{border:1px solid #ccc;padding:4px 8px}}
td.n,th.n{{text-align:right}}img{{max-width:100%}}.note{{color:#555;font-size:90%}}
li.warn{{color:#a93226}}</style></head><body>
<h1>Vårdval primärvård – månadsrapport {html.escape(_month_sv(month))}</h1>
<p>{len(reimb)} vårdcentraler, {_int(total_listed)} listade, total ersättning {_kr(total_sek)}.</p>
{_quality_section(inputs)}
<h2>Listade och ersättning per vårdcentral</h2>
<table><tr><th>HSA-id</th><th>Vårdcentral</th><th>Listade</th><th>Ersättning</th></tr>{table_rows}</table>
{section(other["listade"]) if "listade" in other else ""}
<h2>Ersättning per komponent</h2>
{_components_table(reimb)}
{section(other["ersattning"]) if "ersattning" in other else ""}
<h2 id="indikatorer">Indikatorer mot mål, per vårdcentral</h2>
<p class='note'>Varje indikator med mål och nyckelindikatorerna, senaste 13 månaderna: regionen och varje
vårdcentral, kvinnor och män bredvid alla. Andelar i %, kontinuitet (COC) som index 0–1 med målet i samma enhet.</p>
{''.join(section(c) for c in indicator_charts)}
</body></html>"""
    html_path = folder / f"rapport_{month}.html"
    write_if_changed(html_path, page.encode("utf-8"))
    return ReportResult(html_path, pngs, "\n".join(md))
