"""The quarterly and yearly reports (SPEC §5.1, §7): self-contained HTML pages with charts, drawn
from the published period tables (indicators_quarterly/yearly, reimbursement_quarterly/yearly).

    <reports>/<YYYY-Qn>/rapport_<YYYY-Qn>.html   a quarter: the year's quarters up to it
    <reports>/<YYYY>/rapport_<YYYY>.html         a year (to date while it is not complete)

each with its PNG charts beside it (and embedded, so the page can be mailed alone). Sections:
the period in figures, with how many of its months are published (a period that is not
complete says so at the top: "hittills", months_published of months_in_period, and which
months are missing); reimbursement by component over the year (stacked bars per quarter, the
previous year's quarter totals beside them) and per component against the same months a year
before; each VC's listed count and reimbursement; each indicator with a target and the key
indicators against the target, by quarter, as small multiples (the region, then each VC; the
previous year's quarters dashed beside this year's), each chart with a table of the values it
shows. A period's stock, flow and share values are the period tables' own rows: nothing is
rolled up here, so the report says what BI readers see.

The targets are the ones in force in each quarter's last published month (the model version of
that month) and VC names are those of the registry then; both come from the warehouse, like
the monthly report's.

A report is written when a month of its quarter or year is published, and for the next year's
reports too (their previous-year lines). Each page carries a fingerprint of everything it
shows (the period rows, targets, names and the code that draws it): a page whose fingerprint
did not change is not drawn again, so an unchanged re-run costs a few small Parquet reads and
leaves every file untouched. The yearly report and the report of the year's latest quarter
show the same quarters: their common charts are drawn once.
"""
from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from core import labels
from core.labels import STATUS_SV, components_of, format_value, indicator_kind, indicator_label, month_sv
from orchestration.defs.publication import report
from orchestration.defs.publication.periods import current_path, period_of
from orchestration.defs.publication.publisher import read_catalog, version_dir
from orchestration.defs.publication.report import KEY_INDICATORS, MAX_PANELS, PANEL_COLUMNS, panel_labels
from orchestration.defs.publication.statement_inputs import Source, _targets, registry_sql
from orchestration.defs.publication.targets import direction_of, shortfall, status
from orchestration.defs.publication.workbook import write_if_changed
from orchestration.runtime.parallel import map_forked

QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
FINGERPRINT_META = "vardval-inputs"
THIS_YEAR = dict(color="#2b6a9f", linewidth=1.6, marker="o", markersize=3)
PREVIOUS_YEAR = dict(color="#9e9e9e", linewidth=0.9, linestyle="--", marker="o", markersize=2)
# how a period value was made from its months (the rows' period_kind, from the indicator catalogue)
PERIOD_KIND_SV = {
    "stock": "Ett kvartals värde är dess sista publicerade månads (lagervärde).",
    "flow": "Ett kvartals värde är summan av dess publicerade månader.",
    "events": "Ett kvartals värde är Σ täljare / Σ nämnare över dess publicerade månader.",
}
# The drawing code: a change to it changes every page's fingerprint.
_CODE = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (labels, report))
                       + Path(__file__).read_bytes()).hexdigest()


@dataclass
class PeriodReportResult:
    period: str
    html_path: Path
    png_paths: list[Path] = field(default_factory=list)
    drawn: bool = True          # False: its inputs had not changed, no file was touched


def period_sv(period: str) -> str:
    """'2025-Q1' -> 'kvartal 1 2025'; '2025' -> '2025'."""
    match = QUARTER_RE.match(period)
    return f"kvartal {match.group(2)} {match.group(1)}" if match else period


def quarter_short(period: str) -> str:
    """'2025-Q1' -> 'kv 1 2025'."""
    match = QUARTER_RE.match(period)
    return f"kv {match.group(2)} {match.group(1)}" if match else period


def _months_of(period: str) -> list[str]:
    match = QUARTER_RE.match(period)
    if match:
        first = (int(match.group(2)) - 1) * 3 + 1
        return [f"{match.group(1)}-{m:02d}" for m in range(first, first + 3)]
    return [f"{period}-{m:02d}" for m in range(1, 13)]


def _quarters(year: int) -> list[str]:
    return [f"{year}-Q{q}" for q in range(1, 5)]


def report_periods(months, catalog: dict) -> list[str]:
    """The periods whose report a publication of `months` may change: each month's quarter and
    year, and the next year's quarters and year where the catalog has published months there
    (their previous-year lines)."""
    published = set(catalog.get("months", {}))
    periods: set[str] = set()
    for month in months:
        periods |= {period_of(month, "quarter"), period_of(month, "year")}
        following = str(int(month[:4]) + 1)
        periods |= {period_of(m, g) for m in published if m.startswith(following) for g in ("quarter", "year")}
    return sorted(periods, key=lambda p: (p[:4], len(p) == 4, p))


# ------------------------------------------------------------------------------------ inputs

def _read(con: duckdb.DuckDBPyConnection, published: Path, table: str, periods: list[str],
          sql_filter: str = "true") -> pd.DataFrame:
    files = [str(current_path(published, table, p)) for p in periods if current_path(published, table, p).is_file()]
    if not files:
        return pd.DataFrame()
    # hive_partitioning off: DuckDB would take `period` from the folder name (period=2025) as a number
    return con.sql(f"select * from read_parquet({files!r}, union_by_name = true, hive_partitioning = false) "
                   f"where {sql_filter} order by all").df()


def _digest(*frames: pd.DataFrame) -> str:
    """A digest of the frames' columns, types and values (pandas' row hashes, not their text)."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()


@dataclass
class YearInputs:
    year: int
    catalog_periods: dict          # period -> {month: version} of the year and the previous year
    indicators_q: pd.DataFrame     # indicators_quarterly, sex all: the year's and the previous year's quarters
    indicators_y: pd.DataFrame     # indicators_yearly, sex all: the year and the previous year
    reimb_q: pd.DataFrame
    reimb_y: pd.DataFrame
    reimb_months_before: pd.DataFrame   # reimbursement_monthly of the previous year's published months
    targets: pd.DataFrame          # month, indicator, profession, low, high, direction, pays
    names: dict                    # hsa_id -> name (registry at the year's last published month)
    digest: str = ""               # of all the above (_digest): what the year's pages are drawn from


def _load_year(warehouse: Path, published: Path, catalog: dict, year: int) -> YearInputs:
    periods = [*_quarters(year - 1), *_quarters(year)]
    years = [str(year - 1), str(year)]
    with duckdb.connect() as con:
        ind_q = _read(con, published, "indicators_quarterly", periods, "sex = 'all'")
        ind_y = _read(con, published, "indicators_yearly", years, "sex = 'all'")
        reimb_q = _read(con, published, "reimbursement_quarterly", periods)
        reimb_y = _read(con, published, "reimbursement_yearly", years)
        before = [version_dir(published, m, int(e["latest_version"])) / "reimbursement_monthly.parquet"
                  for m, e in sorted(catalog.get("months", {}).items()) if m.startswith(str(year - 1))]
        reimb_m = con.sql(f"select * from read_parquet({[str(f) for f in before]!r}, union_by_name = true, "
                          "hive_partitioning = false) order by all").df() if before else pd.DataFrame()
    last_months = sorted({m for frame in (ind_q, ind_y) if not frame.empty for m in frame["last_published_month"]})
    targets, names = pd.DataFrame(columns=["month", "indicator", "profession", "low", "high", "direction", "pays"]), {}
    if last_months and Path(warehouse).is_file():
        src = Source(Path(warehouse))
        try:
            # in a fixed order: the digest below must not depend on how DuckDB grouped the rows
            targets = _targets(src, ", ".join(f"'{m}'" for m in last_months)).sort_values(
                ["month", "indicator", "profession"]).reset_index(drop=True)
            this_year = [m for m in last_months if m.startswith(str(year))] or last_months
            names = dict(src.df(f"select hsa_id, name from ({registry_sql(src, this_year[-1])})")
                         .itertuples(index=False, name=None))
        finally:
            src.close()
    catalog_periods = {p: catalog.get("periods", {}).get(p, {}) for p in (*periods, *years)}
    digest = _digest(ind_q, ind_y, reimb_q, reimb_y, reimb_m, targets, pd.DataFrame(sorted(names.items())),
                     pd.DataFrame(sorted((p, m, v) for p, months in catalog_periods.items() for m, v in months.items())))
    return YearInputs(year, catalog_periods, ind_q, ind_y, reimb_q, reimb_y, reimb_m, targets, names, digest)


@dataclass
class PeriodView:
    """What one period's page shows, cut from its year's inputs."""
    period: str
    through: str                   # the year's last quarter shown (the quarter itself, or the year's latest)
    inputs: YearInputs
    rows: pd.DataFrame             # the period's own indicator rows (sex all)
    previous: pd.DataFrame         # the same period a year before
    reimb: pd.DataFrame            # the period's reimbursement rows
    reimb_previous: pd.DataFrame   # the same months a year before (published ones), summed per VC
    previous_label: str            # what reimb_previous covers
    published_months: list[str]
    wanted: list[tuple[str, str]] = field(default_factory=list)   # (indicator, profession) charted

    @property
    def is_quarter(self) -> bool:
        return bool(QUARTER_RE.match(self.period))

    @property
    def last_month(self) -> str:
        return self.published_months[-1]

    def shown_quarters(self) -> list[str]:
        return [q for q in _quarters(self.inputs.year) if q <= self.through]

    def chart_vcs(self) -> list[str]:
        """The VCs of the charts: those with reimbursement in a quarter shown (so the yearly report
        and its latest quarter's report draw the same panels)."""
        reimb = self.inputs.reimb_q
        return sorted(set(reimb[reimb["period"].isin(self.shown_quarters())]["vardcentral_hsa_id"])) \
            if not reimb.empty else []


def _previous_period(period: str) -> str:
    return f"{int(period[:4]) - 1}{period[4:]}"


def _rows_of(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    return frame[frame["period"] == period] if not frame.empty else frame


def _view(inputs: YearInputs, period: str) -> PeriodView | None:
    published = sorted(inputs.catalog_periods.get(period) or {})
    if not published:
        return None
    is_quarter = bool(QUARTER_RE.match(period))
    ind, reimb = (inputs.indicators_q, inputs.reimb_q) if is_quarter else (inputs.indicators_y, inputs.reimb_y)
    year_quarters = [q for q in _quarters(inputs.year) if inputs.catalog_periods.get(q)]
    through = period if is_quarter else year_quarters[-1]
    reimb_previous, previous_label = _same_months_before(inputs, period, published, reimb)
    view = PeriodView(period, through, inputs, _rows_of(ind, period), _rows_of(ind, _previous_period(period)),
                      _rows_of(reimb, period), reimb_previous, previous_label, published)
    view.wanted = _wanted(view)
    return view


def _same_months_before(inputs: YearInputs, period: str, published: list[str],
                        reimb: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Reimbursement of the same months a year before, per VC: a complete period is set against
    the whole period before it (its period row), a period to date against the months it has
    (January–April against January–April), never a month count against another."""
    previous = _previous_period(period)
    if len(published) == len(_months_of(period)):
        return _rows_of(reimb, previous), _period_head_of(inputs, previous)
    months = [f"{int(m[:4]) - 1}{m[4:]}" for m in published]
    monthly = inputs.reimb_months_before
    rows = monthly[monthly["month"].isin(months)] if not monthly.empty else monthly
    if rows.empty:
        return rows, ""
    found = sorted(set(rows["month"]))
    amounts = [c for c, _ in components_of(rows.columns)] + ["total"]
    summed = rows.groupby("vardcentral_hsa_id", as_index=False)[amounts].sum()
    names = ", ".join(month_sv(m).split()[0] for m in found)
    return summed, f"{period_sv(previous)}, samma månader ({names})"


def _targets_in(view: PeriodView, month: str) -> pd.DataFrame:
    targets = view.inputs.targets
    return targets[targets["month"] == month] if not targets.empty else targets


def _target(view: PeriodView, month: str | None, code: str, prof: str) -> tuple[float, float, str]:
    """(low, high, direction) in force in `month` (NaN without a target)."""
    targets = _targets_in(view, month) if month else view.inputs.targets.iloc[0:0]
    hit = targets[(targets["indicator"] == code) & (targets["profession"] == prof)] if not targets.empty else targets
    if hit.empty:
        return float("nan"), float("nan"), "higher"
    t = hit.iloc[0]
    low, high = (float(t["low"]) if pd.notna(t["low"]) else float("nan"),
                 float(t["high"]) if pd.notna(t["high"]) else float("nan"))
    return low, high, direction_of(low, high, t["direction"] if pd.notna(t["direction"]) else None)


def _wanted(view: PeriodView) -> list[tuple[str, str]]:
    """Each indicator with a target in the period's last published month (goals first), then the
    key indicators; those the period's rows have."""
    targets = _targets_in(view, view.last_month)
    wanted: list[tuple[str, str]] = []
    if not targets.empty:
        for t in targets.sort_values(["pays", "indicator", "profession"], ascending=[False, True, True]).itertuples():
            wanted.append((t.indicator, t.profession))
    wanted += [item for item in KEY_INDICATORS if item not in wanted]
    rows = view.rows
    have = set(zip(rows["indicator_code"], rows["profession"])) if not rows.empty else set()
    return [item for item in wanted if item in have]


def _series(frame: pd.DataFrame, code: str, prof: str) -> dict[tuple[str, str], float]:
    """(vc, period) -> value of one indicator and profession (a null value is left out): one pass
    over the frame, so a nation's ~850 VCs cost no filter each."""
    if frame.empty:
        return {}
    hit = frame[(frame["indicator_code"] == code) & (frame["profession"] == prof) & frame["value"].notna()]
    return {(vc, period): float(value) for vc, period, value in
            zip(hit["vardcentral_hsa_id"], hit["period"], hit["value"])}


def _value(frame: pd.DataFrame, vc: str, code: str, prof: str) -> float | None:
    """The VC's value in a frame of one period (None without one)."""
    return next((v for (unit, _), v in _series(frame, code, prof).items() if unit == vc), None)


def _fingerprint(view: PeriodView) -> str:
    """Everything the page shows: its year's inputs (rows of the year and the previous year,
    targets, names, the catalog's month versions), which period it is, and the drawing code."""
    return hashlib.sha256(f"{_CODE}|{view.period}|{view.through}|{view.inputs.digest}".encode()).hexdigest()


def _fingerprint_on_disk(path: Path) -> str | None:
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace")
    match = re.search(rf'<meta name="{FINGERPRINT_META}" content="([0-9a-f]+)"', head)
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------ charts

@dataclass(frozen=True)
class ChartKey:
    kind: str            # "indicator" | "components"
    year: int
    through: str
    code: str = ""
    prof: str = ""

    def filename(self, period: str) -> str:
        if self.kind == "components":
            return f"ersattning_kvartal_{period}.png"
        return f"indikator_{self.code}_{self.prof}_{period}.png"


def _chart_keys(view: PeriodView) -> list[ChartKey]:
    year, through = view.inputs.year, view.through
    return [ChartKey("components", year, through),
            *(ChartKey("indicator", year, through, code, prof) for code, prof in view.wanted)]


def _panels(view: PeriodView, code: str, prof: str) -> tuple[list[str], str]:
    """The region, then the VCs (all of them up to MAX_PANELS, else those furthest from the
    target in the last quarter shown)."""
    vcs = view.chart_vcs()
    if len(vcs) + 1 <= MAX_PANELS:
        return ["REGION", *vcs], ""
    last = _rows_of(view.inputs.indicators_q, view.through)
    month = last["last_published_month"].max() if not last.empty else None
    low, high, direction = _target(view, month, code, prof)
    series = _series(last, code, prof)
    values = {vc: series.get((vc, view.through)) for vc in vcs}
    if pd.isna(high):
        ranked = sorted(vcs, key=lambda vc: (values[vc] is None, values[vc] or 0.0, vc))
    else:
        ranked = sorted(vcs, key=lambda vc: (values[vc] is None, -(shortfall(values[vc], high, direction) or 0.0), vc))
    shown = ranked[:MAX_PANELS - 1]
    return ["REGION", *shown], (f"Regionen och de {len(shown)} av {len(vcs)} vårdcentraler som ligger längst "
                                "från målet (eller lägst); alla finns i tabellen och i de publicerade tabellerna.")


def _quarter_targets(view: PeriodView, code: str, prof: str) -> list[tuple[float, float, str]]:
    """(low, high, direction) of each of the year's four quarters: the target of the quarter's
    last published month (NaN for a quarter not shown or without a target)."""
    out = []
    for quarter in _quarters(view.inputs.year):
        rows = _rows_of(view.inputs.indicators_q, quarter)
        month = rows["last_published_month"].max() if quarter <= view.through and not rows.empty else None
        out.append(_target(view, month, code, prof))
    return out


def _indicator_chart(plt, view: PeriodView, code: str, prof: str):
    """Small multiples on one axes (as the monthly report's): per panel the year's quarters up to
    `through` (solid) and the previous year's four quarters (dashed), with each quarter's target."""
    year = view.inputs.year
    kind = indicator_kind(code)
    quarters, previous = _quarters(year), _quarters(year - 1)
    shown = view.shown_quarters()
    rows = view.inputs.indicators_q
    panels, panel_note = _panels(view, code, prof)
    targets = _quarter_targets(view, code, prof)
    high = [t[1] for t in targets]
    low = [t[0] for t in targets]
    last_low, last_high, direction = targets[len(shown) - 1]
    names = view.inputs.names
    n_rows = -(-len(panels) // PANEL_COLUMNS)
    width, height, gap_x, gap_y = 3, 1.0, 1.6, 0.62
    fig_height = 1.32 * n_rows + 0.8
    fig = plt.figure(figsize=(11, fig_height))
    ax = fig.add_axes((0.045, 0.02, 0.95, 1 - 0.7 / fig_height))
    ax.set_axis_off()
    lines = {key: ([], []) for key in ("this", "previous", "high", "low", "grid", "frame")}

    def add(key, xs, ys):
        lines[key][0].extend([*xs, float("nan")])
        lines[key][1].extend([*ys, float("nan")])

    series = _series(rows, code, prof)
    values = {(vc, q): series.get((vc, q)) for vc in panels for q in (*quarters, *previous)}
    for i, vc in enumerate(panels):
        col, row = i % PANEL_COLUMNS, i // PANEL_COLUMNS
        x0, y0 = col * (width + gap_x), -row * (height + gap_y)
        scale = 1.0
        if kind in ("count", "ratio"):
            seen = [v for q in (*shown, *previous) if (v := values[(vc, q)]) is not None]
            scale = max(seen) * 1.1 if seen and max(seen) > 0 else 1.0
        add("frame", [x0, x0 + width, x0 + width, x0, x0], [y0, y0, y0 + height, y0 + height, y0])
        add("grid", [x0, x0 + width], [y0 + height / 2] * 2)
        for key, qs in (("previous", previous), ("this", shown)):
            add(key, [x0 + k for k in range(len(qs))],
                [y0 + values[(vc, q)] / scale if values[(vc, q)] is not None else float("nan") for q in qs])
        if kind not in ("count", "ratio"):
            # a step per quarter (half a quarter each side of its point, inside the panel)
            steps = [x0 + min(max(k + d, 0), width) for k in range(len(shown)) for d in (-0.5, 0.5)]
            add("high", steps, [y0 + h for h in high[:len(shown)] for _ in (0, 1)])
            add("low", steps, [y0 + v for v in low[:len(shown)] for _ in (0, 1)])
        latest = values[(vc, shown[-1])]
        state = status(latest, last_low, last_high, direction) if latest is not None else None
        title = "Regionen" if vc == "REGION" else str(names.get(vc, vc))
        panel_labels(ax, (x0, y0, width, height), title, vc == "REGION", state, kind, scale,
                     axis_gap=0.15 if col == 0 else None)
        if row == n_rows - 1 or i + PANEL_COLUMNS >= len(panels):
            for k in range(4):
                ax.text(x0 + k, y0 - 0.08, f"kv {k + 1}", fontsize=5.5, ha="center", va="top", color="#444")
    ax.plot(*lines["frame"], color="#bbbbbb", linewidth=0.5)
    ax.plot(*lines["grid"], color="#dddddd", linewidth=0.5)
    ax.plot(*lines["low"], color="#e67e22", linewidth=0.8, linestyle=":")
    ax.plot(*lines["high"], color="#c0392b", linewidth=0.9)
    ax.plot(*lines["previous"], **PREVIOUS_YEAR)
    ax.plot(*lines["this"], **THIS_YEAR)
    ax.set_xlim(-0.9, PANEL_COLUMNS * (width + gap_x) - gap_x + 0.6)
    ax.set_ylim(-(n_rows - 1) * (height + gap_y) - 0.35, height + 0.3)
    label = indicator_label(code, prof)
    unit = {"share": "andel i %", "index": "index 0–1", "count": "antal", "ratio": "kvot"}[kind]
    Line2D = plt.matplotlib.lines.Line2D
    handles = [Line2D([], [], **THIS_YEAR, label=str(year))]
    has_previous = any(values[(vc, q)] is not None for vc in panels for q in previous)
    if has_previous:
        handles.append(Line2D([], [], **PREVIOUS_YEAR, label=str(year - 1)))
    if any(pd.notna(h) for h in high):
        handles.append(Line2D([], [], color="#c0392b", linewidth=0.9, label="Mål"))
    if any(pd.notna(v) for v in low):
        handles.append(Line2D([], [], color="#e67e22", linestyle=":", label="Nedre gräns"))
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=7, frameon=False)
    fig.text(0.01, 1 - 0.12 / fig_height, f"{label} ({unit}) per kvartal, {year}" + (f" mot {year - 1}" if has_previous else ""), fontsize=10, va="top")
    target_text = ""
    if pd.notna(last_high):
        target_text = (f"Mål {'≤' if direction == 'lower' else '≥'} {format_value(last_high, kind)}"
                       + (f", nedre gräns {format_value(last_low, kind)}" if pd.notna(last_low) else "")
                       + f" ({quarter_short(shown[-1])}). Namn i rött: målet ej nått {quarter_short(shown[-1])}; "
                         "i gult: nära.")
    kinds = set(rows.loc[rows["indicator_code"] == code, "period_kind"]) if not rows.empty else set()
    caption = " ".join(x for x in (
        f"Värde per kvartal för alla; {unit}.", *(PERIOD_KIND_SV[k] for k in sorted(kinds) if k in PERIOD_KIND_SV),
        target_text, panel_note, "Kvartal utan data visas som luckor.") if x)
    return fig, label, caption


def _components_chart(plt, view: PeriodView):
    """The region's reimbursement by component per quarter of the year (stacked), the previous
    year's quarter totals as a dashed line."""
    year = view.inputs.year
    shown = view.shown_quarters()
    reimb_q = view.inputs.reimb_q
    components = components_of(reimb_q.columns)
    this = reimb_q[reimb_q["period"].isin(shown)]
    sums = this.groupby("period")[[c for c, _ in components] + ["total"]].sum()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    cmap = plt.get_cmap("tab20")
    xs = list(range(4))
    bottom_pos, bottom_neg = [0.0] * 4, [0.0] * 4
    for i, (column, label) in enumerate(components):
        values = [float(sums.loc[q, column]) if q in sums.index else 0.0 for q in _quarters(year)]
        if not any(abs(v) > 0 for v in values):
            continue
        bottoms = [bp if v >= 0 else bn for v, bp, bn in zip(values, bottom_pos, bottom_neg)]
        ax.bar(xs, values, bottom=bottoms, color=cmap(i), label=label, width=0.6)
        bottom_pos = [bp + max(v, 0) for v, bp in zip(values, bottom_pos)]
        bottom_neg = [bn + min(v, 0) for v, bn in zip(values, bottom_neg)]
    previous = reimb_q[reimb_q["period"].isin(_quarters(year - 1))]
    if not previous.empty:
        totals = previous.groupby("period")["total"].sum()
        ax.plot(xs, [float(totals[q]) if q in totals.index else float("nan") for q in _quarters(year - 1)],
                color="#555", linestyle="--", marker="o", markersize=4, label=f"Summa {year - 1}")
    for x, quarter in enumerate(_quarters(year)):
        if quarter in sums.index:
            ax.text(x, bottom_pos[x], report._kr(float(sums.loc[quarter, "total"])), ha="center", va="bottom",
                    fontsize=7)
    ax.set_xticks(xs, [_quarter_tick(view, q) for q in _quarters(year)])
    ax.set_ylabel("Kronor")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}".replace(",", " ")))
    ax.set_title(f"Ersättning per komponent och kvartal, {year}" + (f" (till och med {quarter_short(shown[-1])})"
                                                                     if len(shown) < 4 else ""))
    ax.margins(y=0.12)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    caption = ("Regionens ersättning per kvartal, summan av varje publicerad månads senaste version"
               + (f"; den streckade linjen är summan per kvartal {year - 1}." if not previous.empty else "."))
    return fig, "Ersättning per komponent över året", caption


def _quarter_tick(view: PeriodView, quarter: str) -> str:
    published = len(view.inputs.catalog_periods.get(quarter) or {})
    short = f"kv {quarter[-1]}"
    if quarter > view.through or not published:
        return short
    return short if published == 3 else f"{short}\n({published} av 3 mån)"


@dataclass
class Drawn:
    title: str
    caption: str
    png: bytes


def _draw(job: tuple[ChartKey, PeriodView]) -> Drawn:
    key, view = job
    plt = report._plt()
    if key.kind == "components":
        fig, title, caption = _components_chart(plt, view)
        png = report.png_bytes(fig, tight=True)
    else:
        fig, title, caption = _indicator_chart(plt, view, key.code, key.prof)
        png = report.png_bytes(fig, tight=False)
    plt.close(fig)
    return Drawn(title, caption, png)


# ------------------------------------------------------------------------------------ page

def _cell(value: float | None, kind: str) -> str:
    """A table cell with the value as shown and, in data-value, as stored (for reuse and checks)."""
    raw = "" if value is None else repr(float(value))
    return f"<td class='n' data-value='{raw}'>{html.escape(format_value(value, kind))}</td>"


def _money_cell(value) -> str:
    raw = "" if value is None or pd.isna(value) else repr(float(value))
    return f"<td class='n' data-value='{raw}'>{report._kr(float(value)) if raw else '–'}</td>"


def _coverage_note(view: PeriodView) -> str:
    months = _months_of(view.period)
    published = view.published_months
    if len(published) == len(months):
        return (f"<p>Perioden är komplett: alla {len(months)} månader är publicerade "
                f"({html.escape(month_sv(months[0]))}–{html.escape(month_sv(months[-1]))}).</p>")
    missing = [m for m in months if m not in published and m < published[-1]]
    text = (f"Hittills {'i år' if not view.is_quarter else 'i kvartalet'}: {len(published)} av {len(months)} "
            f"månader publicerade (till och med {month_sv(published[-1])}).")
    if missing:
        text += " Saknas (ej publicerade): " + ", ".join(month_sv(m) for m in missing) + "."
    text += (" Lagervärden är den sista publicerade månadens; flöden och ersättning är summan av de publicerade "
             "månaderna.")
    return f"<p class='todate'><strong>{html.escape(text)}</strong></p>"


def _components_table(view: PeriodView) -> str:
    reimb, before = view.reimb, view.reimb_previous
    rows = []
    for column, label in [*components_of(reimb.columns), ("total", labels.TOTAL_LABEL)]:
        now = float(reimb[column].sum()) if not reimb.empty else 0.0
        then = float(before[column].sum()) if not before.empty and column in before.columns else None
        tag = "th" if column == "total" else "td"
        rows.append(f"<tr><{tag}>{html.escape(label)}</{tag}>{_money_cell(now)}"
                    f"{_money_cell(then) if not before.empty else ''}</tr>")
    head = f"<th>{html.escape(_period_head(view, view.period))}</th>"
    if not before.empty:
        head += f"<th>{html.escape(view.previous_label)}</th>"
    return f"<table class='components'><tr><th>Komponent</th>{head}</tr>{''.join(rows)}</table>"


def _period_head(view: PeriodView, period: str) -> str:
    return _period_head_of(view.inputs, period)


def _period_head_of(inputs: YearInputs, period: str) -> str:
    """'kvartal 1 2025', or 'kvartal 1 2025 (2 av 3 mån)' while it is not complete."""
    published = len(inputs.catalog_periods.get(period) or {})
    months = len(_months_of(period))
    label = period_sv(period)
    return label if published == months else f"{label} ({published} av {months} mån)"


def _vc_table(view: PeriodView) -> str:
    names = view.inputs.names
    before = dict(zip(view.reimb_previous["vardcentral_hsa_id"], view.reimb_previous["total"])) \
        if not view.reimb_previous.empty else {}
    rows = []
    listed_at_end = _series(view.rows, "listed_count", "all")
    for r in view.reimb.sort_values("vardcentral_hsa_id").itertuples():
        listed = listed_at_end.get((r.vardcentral_hsa_id, view.period))
        rows.append(f"<tr data-vc='{html.escape(r.vardcentral_hsa_id)}'><td>{html.escape(r.vardcentral_hsa_id)}</td>"
                    f"<td>{html.escape(str(names.get(r.vardcentral_hsa_id, '')))}</td>{_cell(listed, 'count')}"
                    f"<td class='n'>{int(r.vc_months)}</td>{_money_cell(r.total)}"
                    f"{_money_cell(before.get(r.vardcentral_hsa_id)) if before else ''}</tr>")
    head = (f"<th>HSA-id</th><th>Vårdcentral</th><th>Listade vid periodens slut</th><th>Månader med ersättning</th>"
            f"<th>Ersättning {html.escape(_period_head(view, view.period))}</th>")
    if before:
        head += f"<th>Ersättning {html.escape(view.previous_label)}</th>"
    return f"<table class='vcs'><tr>{head}</tr>{''.join(rows)}</table>"


def _indicator_summary(view: PeriodView) -> str:
    """The region's value of each charted indicator in the period and a year before, the target
    and how many VCs reach it."""
    rows = []
    previous = _previous_period(view.period)
    has_previous = not view.previous.empty
    for code, prof in view.wanted:
        kind = indicator_kind(code)
        low, high, direction = _target(view, view.last_month, code, prof)
        value = _value(view.rows, "REGION", code, prof)
        vcs = view.rows[(view.rows["vardcentral_hsa_id"] != "REGION") & (view.rows["indicator_code"] == code)
                        & (view.rows["profession"] == prof)]
        states = [status(v, low, high, direction) for v in vcs["value"] if pd.notna(v)]
        reached = f"{states.count('met')} av {len(states)}" if pd.notna(high) else "–"
        target = "–" if pd.isna(high) else f"{'≤' if direction == 'lower' else '≥'} {format_value(high, kind)}"
        rows.append(f"<tr data-code='{code}' data-profession='{prof}'><td>{html.escape(indicator_label(code, prof))}"
                    f"</td>{_cell(value, kind)}<td class='n'>{html.escape(target)}</td>"
                    f"<td>{html.escape(STATUS_SV[status(value, low, high, direction)])}</td>"
                    f"<td class='n'>{reached}</td>"
                    + (_cell(_value(view.previous, 'REGION', code, prof), kind) if has_previous else "") + "</tr>")
    return (f"<table class='indicators'><tr><th>Indikator</th><th>Regionen {html.escape(_period_head(view, view.period))}"
            f"</th><th>Mål</th><th>Regionen mot målet</th><th>Vårdcentraler som når målet</th>"
            + (f"<th>Regionen {html.escape(_period_head(view, previous))}</th>" if has_previous else "")
            + f"</tr>{''.join(rows)}</table>")


def _values_table(view: PeriodView, code: str, prof: str) -> str:
    """The values behind an indicator chart, per panel: the year's quarters shown (and the year,
    in the yearly report), then the previous year's quarters (and that year) where there are any."""
    kind = indicator_kind(code)
    year = view.inputs.year
    rows_q = view.inputs.indicators_q
    by_quarter, years = _series(rows_q, code, prof), _series(view.inputs.indicators_y, code, prof)
    columns = [(q, by_quarter, quarter_short(q)) for q in view.shown_quarters()]
    if not view.is_quarter:
        columns.append((str(year), years, _period_head(view, str(year))))
    previous = [q for q in _quarters(year - 1) if not rows_q.empty and (rows_q["period"] == q).any()]
    if previous:
        columns += [(q, by_quarter, quarter_short(q)) for q in previous]
        if not view.is_quarter:
            columns.append((str(year - 1), years, _period_head(view, str(year - 1))))
    head = "".join(f"<th data-period='{period}'>{html.escape(text)}</th>" for period, _, text in columns)
    body = []
    for vc in ["REGION", *view.chart_vcs()]:
        name = "Regionen" if vc == "REGION" else str(view.inputs.names.get(vc, vc))
        cells = "".join(_cell(values.get((vc, period)), kind) for period, values, _ in columns)
        body.append(f"<tr data-vc='{html.escape(vc)}'><td>{html.escape(name)}</td>{cells}</tr>")
    return (f"<details><summary>Värden i diagrammet</summary><table class='values' data-code='{code}' "
            f"data-profession='{prof}'><tr><th>Vårdcentral</th>{head}</tr>{''.join(body)}</table></details>")


def _page(view: PeriodView, charts: dict[ChartKey, Drawn], fingerprint: str) -> str:
    period = view.period
    kind_sv = "Kvartalsrapport" if view.is_quarter else "Årsrapport"
    reimb = view.reimb
    total = float(reimb["total"].sum()) if not reimb.empty else 0.0
    listed = _value(view.rows, "REGION", "listed_count", "all")
    keys = _chart_keys(view)

    def section(key: ChartKey, extra: str = "") -> str:
        c = charts[key]
        return (f"<h3>{html.escape(c.title)}</h3><img alt='{html.escape(c.title)}' src='data:image/png;base64,"
                f"{base64.b64encode(c.png).decode()}'/>"
                + (f"<p class='note'>{html.escape(c.caption)}</p>" if c.caption else "") + extra)

    title = f"{kind_sv} {period_sv(period)}" + ("" if len(view.published_months) == len(_months_of(period))
                                                else " (hittills)")
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="{FINGERPRINT_META}" content="{fingerprint}">
<title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0}}td,th{{border:1px solid #ccc;padding:4px 8px}}
td.n,th.n{{text-align:right;white-space:nowrap}}img{{max-width:100%}}.note{{color:#555;font-size:90%}}
.todate{{background:#fff4e5;border-left:4px solid #e67e22;padding:0.5em 1em}}
details{{margin:0.3em 0 1.5em}}summary{{cursor:pointer;color:#2b6a9f}}</style></head><body>
<h1>Vårdval primärvård – {html.escape(title[0].lower() + title[1:])}</h1>
{_coverage_note(view)}
<p>{len(reimb)} vårdcentraler med ersättning under perioden, {html.escape(format_value(listed, 'count'))} listade
vid periodens slut ({html.escape(month_sv(view.last_month))}), total ersättning {report._kr(total)}.</p>
<h2>Ersättning</h2>
{section(keys[0])}
<h3>Per komponent</h3>
{_components_table(view)}
<h3>Per vårdcentral</h3>
{_vc_table(view)}
<h2 id="indikatorer">Indikatorer mot mål, per kvartal</h2>
<p class='note'>Varje indikator med mål och nyckelindikatorerna: regionens värde för perioden, målet i periodens
sista publicerade månad och hur många vårdcentraler som når det; under varje diagram finns dess värden.</p>
{_indicator_summary(view)}
{''.join(section(k, _values_table(view, k.code, k.prof)) for k in keys[1:])}
</body></html>"""


# ------------------------------------------------------------------------------------ entry point

def write_period_reports(warehouse_path: Path, published_dir: Path, months, out_dir: Path,
                         periods: list[str] | None = None) -> list[PeriodReportResult]:
    """The quarterly and yearly reports a publication of `months` may change (report_periods),
    or of `periods`: data read here, the charts of the pages whose inputs changed drawn over the
    cores (each shared chart once), pages assembled and written here."""
    published_dir, out_dir = Path(published_dir), Path(out_dir)
    catalog = read_catalog(published_dir)
    periods = periods if periods is not None else report_periods(months, catalog)
    years = {int(p[:4]): None for p in periods}
    for year in years:
        years[year] = _load_year(Path(warehouse_path), published_dir, catalog, year)
    todo: list[tuple[PeriodView, str]] = []
    results: dict[str, PeriodReportResult] = {}
    for period in periods:
        view = _view(years[int(period[:4])], period)
        if view is None:
            continue
        html_path = out_dir / period / f"rapport_{period}.html"
        fingerprint = _fingerprint(view)
        pngs = [html_path.parent / k.filename(period) for k in _chart_keys(view)]
        if _fingerprint_on_disk(html_path) == fingerprint and all(p.is_file() for p in pngs):
            results[period] = PeriodReportResult(period, html_path, pngs, drawn=False)
        else:
            todo.append((view, fingerprint))
    jobs: dict[ChartKey, PeriodView] = {}
    for view, _ in todo:
        for key in _chart_keys(view):
            jobs.setdefault(key, view)
    if jobs:
        report._plt()   # imported once, before the workers fork
    drawn = dict(zip(jobs, map_forked(_draw, list(jobs.items()), min_items_per_worker=1)))
    for view, fingerprint in todo:
        html_path = out_dir / view.period / f"rapport_{view.period}.html"
        pngs = []
        for key in _chart_keys(view):
            pngs.append(write_if_changed(html_path.parent / key.filename(view.period), drawn[key].png))
        write_if_changed(html_path, _page(view, drawn, fingerprint).encode("utf-8"))
        results[view.period] = PeriodReportResult(view.period, html_path, pngs)
    return [results[p] for p in periods if p in results]
