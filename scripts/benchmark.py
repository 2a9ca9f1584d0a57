"""Benchmark of the monthly pipeline against a floor, on this machine (docs/performance.md).

    .venv/bin/python scripts/benchmark.py --scale 1 --months 3            # region, a few minutes
    .venv/bin/python scripts/benchmark.py --scale 1 --months 12 --skip-national
    .venv/bin/python scripts/benchmark.py --scale 1 --months 12           # + one national month (scale 37)

What it measures (each `vardval run` is a fresh child process, i.e. a cold start):

* month, empty warehouse: `vardval run --from M1` in a fresh data dir (--repeat times);
* backfill: `vardval run --from M1 --to MN` in one run (N = --months), once;
* month N+1 with N months of history, and month 2N with 2N-1 months of history: the warehouse,
  published tables and Dagster home after the history are snapshotted and each repeat runs the
  new month on the snapshot restored at the same path (a region's monthly run: same data dir,
  dbt's parse cache valid). The two must cost the same: a month reads only its windows;
* national (scale 37, one month; --skip-national to leave out): generated once, run once on an
  empty warehouse, or with --national-history N after N national months built a run each;
* the floor, in the same benchmark run, for each measured month: a child process with only DuckDB
  that loads the month's three files into tables (read_csv; the xlsx via calamine) and computes
  the same aggregates (listed per VC/age band/sex, contacts per VC/type/profession, a 12-month
  COC per person and VC, capitation sums), with no validation, no pseudonymisation and no
  orchestration. The earlier months the COC window needs are loaded before the clock starts
  (the pipeline has them in its warehouse too).

Wall time of the child process, its stages from the Dagster run's step stats (the instance
under the data dir's DAGSTER_HOME), peak RSS as the kernel reports it for the child
(wait4: the largest single process, dbt included) and the peak of the process tree's summed
RSS (sampled from /proc every 0.2 s). Medians over the repeats.

Writes docs/benchmark_results.json and docs/benchmark_results.md (a table docs can quote).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
VARDVAL = PYTHON.with_name("vardval")
FIRST_MONTH = "2024-01"
NATIONAL_SCALE = 37.0
BENCH_KEY = "benchmark-only-pseudonym-key-0123456789abcdef"
STAGES = {  # Dagster step key -> stage name
    "reference_data": "reference",
    "source_deliveries": "ingest",
    "vardval_dbt_models": "dbt",
    # the gate, the published tables, the statements and the report: one step, month by month
    "publication": "publication",
}
# Which pipeline stages the floor's two parts stand for, for the ratios.
FLOOR_OF = {"ingest": ["reference", "ingest"], "transform": ["dbt"]}


def months_from(first: str, n: int) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    for i in range(n):
        k = (y * 12 + m - 1) + i
        out.append(f"{k // 12:04d}-{k % 12 + 1:02d}")
    return out


# --- process measurement -----------------------------------------------------------------

def _tree_rss_kib(root: int) -> int:
    """Summed VmRSS of root and its descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def run_child(cmd: list[str], env: dict, log_path: Path) -> dict:
    """Run a child to completion; wall time, exit status, peak RSS (single process and tree)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    peak_tree = [0]
    load = os.getloadavg()[0]  # other work on the machine distorts the figures: recorded beside them
    with log_path.open("w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_tree[0] = max(peak_tree[0], _tree_rss_kib(proc.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 2), "exit": proc.returncode,
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "peak_tree_rss_mib": round(peak_tree[0] / 1024, 1), "load_before": round(load, 2),
            # CPU seconds of the child and its reaped children (dbt): less sensitive than wall time
            # to other work on the machine; on an idle machine wall >= cpu / cores
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "log": str(log_path)}


def env_for(landing: Path, data_dir: Path) -> dict:
    env = dict(os.environ)
    env.update({"VARDVAL_LANDING_DIR": str(landing), "VARDVAL_DATA_DIR": str(data_dir),
                "DAGSTER_HOME": str(data_dir / "dagster_home"), "VARDVAL_FIRST_MONTH": FIRST_MONTH,
                "VARDVAL_PSEUDONYM_KEY": env.get("VARDVAL_PSEUDONYM_KEY", BENCH_KEY),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DAGSTER_DISABLE_TELEMETRY": "true"})
    return env


def step_stats(data_dir: Path, log_path: Path) -> dict:
    """Stage durations of the run the log names, from the Dagster instance's step stats."""
    match = re.search(r"Dagster run ([0-9a-f-]{36})", log_path.read_text(errors="replace"))
    if not match:
        return {}
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(data_dir / "dagster_home"))
    try:
        run_id = match.group(1)
        stages = {}
        for stat in instance.get_run_step_stats(run_id):
            name = STAGES.get(stat.step_key, stat.step_key)
            if stat.start_time and stat.end_time:
                stages[name] = round(stat.end_time - stat.start_time, 2)
        run = instance.get_run_stats(run_id)
        stages["_run_s"] = round((run.end_time or 0) - (run.start_time or 0), 2)
        return stages
    finally:
        instance.dispose()


def pipeline_run(label: str, landing: Path, data_dir: Path, month_from: str, month_to: str,
                 logs: Path, runtime: str | None = None) -> dict:
    cmd = [str(VARDVAL), "run", "--from", month_from, "--to", month_to, "--quiet"]
    env = env_for(landing, data_dir)
    if runtime is not None:
        env["VARDVAL_RUNTIME"] = runtime
    result = run_child(cmd, env, logs / f"{label}.log")
    if result["exit"] != 0:
        tail = Path(result["log"]).read_text(errors="replace")[-3000:]
        raise SystemExit(f"{label}: `vardval run` exited {result['exit']}\n{tail}")
    stages = step_stats(data_dir, Path(result["log"]))
    run_s = stages.pop("_run_s", None)
    if run_s:
        # process start, imports, loading the definitions and the summary after the run
        stages["startup_and_summary"] = round(result["wall_s"] - run_s, 2)
    result["stages"] = stages
    print(f"  {label}: {result['wall_s']:.1f} s (CPU {result['cpu_s']:.0f} s, load {result['load_before']:.1f}), peak RSS {result['peak_rss_mib']:.0f} MiB "
          f"(tree {result['peak_tree_rss_mib']:.0f} MiB); "
          + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()), flush=True)
    return result


def floor_run(label: str, landing: Path, floor_db: Path, month: str, logs: Path) -> dict:
    cmd = [str(PYTHON), str(Path(__file__).resolve()), "--floor-child", str(landing), str(floor_db), month]
    result = run_child(cmd, dict(os.environ), logs / f"{label}.log")
    if result["exit"] != 0:
        raise SystemExit(f"{label}: floor exited {result['exit']}\n" + Path(result["log"]).read_text()[-3000:])
    figures = json.loads(Path(result["log"]).read_text().strip().splitlines()[-1])
    result["stages"] = {"ingest": figures["load_s"], "transform": figures["aggregate_s"]}
    # the floor's figure is its timed work; the child's wall also holds the untimed loading of
    # the earlier months of the COC window
    result["process_wall_s"] = result["wall_s"]
    result["wall_s"] = round(figures["load_s"] + figures["aggregate_s"], 2)
    result["rows"] = figures["rows"]
    print(f"  {label}: {result['wall_s']:.1f} s (load {figures['load_s']:.1f}, aggregates "
          f"{figures['aggregate_s']:.1f}), peak RSS {result['peak_rss_mib']:.0f} MiB; rows {figures['rows']}",
          flush=True)
    return result


def median_of(results: list[dict]) -> dict:
    """Median wall, RSS and per-stage figures over repeats (the raw runs kept beside)."""
    keys = {k for r in results for k in r.get("stages", {})}
    return {
        "repeats": len(results),
        "wall_s": round(statistics.median(r["wall_s"] for r in results), 2),
        "peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in results), 1),
        "peak_tree_rss_mib": round(statistics.median(r["peak_tree_rss_mib"] for r in results), 1),
        "stages": {k: round(statistics.median(r["stages"].get(k, 0.0) for r in results), 2) for k in sorted(keys)},
        "load_before": round(statistics.median(r.get("load_before", 0.0) for r in results), 2),
        "cpu_s": round(statistics.median(r.get("cpu_s", 0.0) for r in results), 2),
        "runs": [{k: v for k, v in r.items() if k != "log"} for r in results],
    }


def ratios(pipe: dict, floor: dict) -> dict:
    out = {"total": round(pipe["wall_s"] / floor["wall_s"], 2) if floor["wall_s"] else None}
    for part, stages in FLOOR_OF.items():
        p = sum(pipe["stages"].get(s, 0.0) for s in stages)
        f = floor["stages"].get(part, 0.0)
        out[part] = round(p / f, 2) if f else None
    return out


# --- the floor (child process: DuckDB only) ------------------------------------------------

def _floor_load(con, landing: Path, month: str, sources=("listing", "visits", "telephony")) -> dict:
    folder = landing / month
    rows = {}
    for source in sources:
        csv_path, xlsx_path = folder / f"{source}.csv", folder / f"{source}.xlsx"
        con.execute(f"delete from {source}_raw where month = ?", [month])
        if csv_path.exists():
            rel = f"read_csv('{csv_path}', header = true, all_varchar = true)"
        else:
            import pyarrow as pa
            from python_calamine import CalamineWorkbook

            data = CalamineWorkbook.from_path(str(xlsx_path)).get_sheet_by_index(0).to_python()
            header = [str(h).strip().lower() for h in data[0]]
            columns = list(zip(*data[1:])) if len(data) > 1 else [[] for _ in header]
            sheet = pa.table({h: pa.array([None if v == "" else str(v) for v in col], pa.string())
                              for h, col in zip(header, columns)})
            con.register("sheet", sheet)
            rel = "sheet"
        if source == "listing":
            con.execute(f"""insert into listing_raw select '{month}', replace(trim(personnummer), '-', ''),
                trim(vardcentral_hsa_id), trim(listing_type), trim(deso) from {rel}""")
        elif source == "visits":
            con.execute(f"""insert into visits_raw select '{month}', contact_id, replace(trim(personnummer), '-', ''),
                trim(vardcentral_hsa_id), cast(contact_date as date), contact_type, profession, staff_hsa_id, status
                from {rel}""")
        else:
            con.execute(f"""insert into telephony_raw select '{month}', call_id, trim(vardcentral_hsa_id),
                cast(called_at as timestamp), queue, outcome from {rel}""")
        rows[source] = con.execute(f"select count(*) from {source}_raw where month = ?", [month]).fetchone()[0]
    return rows


FLOOR_AGGREGATES = """
create or replace temp table persons as
select vardcentral_hsa_id, pnr, listing_type, deso,
       case when substr(pnr, 11, 1)::int % 2 = 1 then 'male' else 'female' end as sex,
       date_diff('year', make_date(substr(pnr, 1, 4)::int, substr(pnr, 5, 2)::int,
                 substr(pnr, 7, 2)::int - case when substr(pnr, 7, 2)::int > 60 then 60 else 0 end),
                 $month_end) as age
from listing_raw where month = $month and length(pnr) = 12;

create or replace table floor_listed as
select vardcentral_hsa_id, case when age < 7 then '0-6' when age < 20 then '7-19' when age < 40 then '20-39'
       when age < 65 then '40-64' when age < 75 then '65-74' when age < 85 then '75-84' else '85+' end as age_band,
       sex, count(*) as listed, count(*) filter (where listing_type = 'aktiv') as aktiv
from persons group by all;

create or replace table floor_contacts as
select vardcentral_hsa_id, contact_type, profession, count(*) as contacts,
       count(distinct pnr) as persons
from visits_raw where month = $month and status = 'genomford' group by all;

create or replace table floor_calls as
select vardcentral_hsa_id, queue, outcome, count(*) as calls from telephony_raw where month = $month group by all;

create or replace table floor_coc as
with per_caregiver as (
    select p.pnr, v.staff_hsa_id, count(*) as n,
           count(*) filter (where v.profession = 'lakare') as n_doctor
    from persons p join visits_raw v on v.pnr = p.pnr
    where v.month between $window_from and $month and v.status = 'genomford'
    group by all
), per_person as (
    select pnr, sum(n) as n, sum(n * n) as n2, sum(n_doctor) as nd, sum(n_doctor * n_doctor) as nd2
    from per_caregiver group by all
)
select p.vardcentral_hsa_id, p.pnr, pp.n,
       case when pp.n >= 2 then (pp.n2 - pp.n)::double / (pp.n * (pp.n - 1)) end as coc_all,
       case when pp.nd >= 2 then (pp.nd2 - pp.nd)::double / (pp.nd * (pp.nd - 1)) end as coc_doctor
from per_person pp join persons p using (pnr);

create or replace table floor_capitation as
select p.vardcentral_hsa_id, count(*) as listed,
       sum(c.amount) / 12 as capitation_sek,
       sum(coalesce(a.acg_weight, 1.0)) * 900 / 12 as acg_sek,
       sum(coalesce(n.cni, 0.0)) * 400 / 12 as cni_sek
from persons p
join capitation_rates c on p.sex = c.sex and p.age between c.age_from and c.age_to
left join acg a on a.personnummer = p.pnr and a.year = $year
left join cni n on n.deso = p.deso and n.year = $year - 1
group by all;
"""


def floor_child(landing: Path, floor_db: Path, month: str) -> None:
    """Load the month (and, untimed, missing months of its 12-month window) and aggregate."""
    import duckdb

    window = months_from(_shift(month, -11), 12)
    con = duckdb.connect(str(floor_db))
    con.execute("set preserve_insertion_order = false")
    con.execute("create table if not exists listing_raw (month varchar, pnr varchar, vardcentral_hsa_id varchar, "
                "listing_type varchar, deso varchar)")
    con.execute("create table if not exists visits_raw (month varchar, contact_id varchar, pnr varchar, "
                "vardcentral_hsa_id varchar, contact_date date, contact_type varchar, profession varchar, "
                "staff_hsa_id varchar, status varchar)")
    con.execute("create table if not exists telephony_raw (month varchar, call_id varchar, "
                "vardcentral_hsa_id varchar, called_at timestamp, queue varchar, outcome varchar)")
    ref = landing / "reference"
    if not con.execute("select count(*) from information_schema.tables where table_name = 'acg'").fetchone()[0]:
        con.execute(f"create table acg as select personnummer, year::int as year, acg_weight::double as acg_weight "
                    f"from read_csv('{ref / 'acg_weights.csv'}', header = true, all_varchar = true)")
        con.execute(f"create table cni as select deso, year::int as year, cni::double as cni "
                    f"from read_csv('{ref / 'cni_areas.csv'}', header = true, all_varchar = true)")
        con.execute("create table capitation_rates (age_from int, age_to int, sex varchar, amount double)")
        rates = [(0, 6, 3100, 3200), (7, 19, 1500, 1400), (20, 39, 2000, 1600), (40, 64, 2500, 2300),
                 (65, 74, 3800, 3700), (75, 84, 5200, 5100), (85, 200, 6400, 6300)]
        con.executemany("insert into capitation_rates values (?, ?, ?, ?)",
                        [(a, b, s, f if s == "female" else m) for a, b, f, m in rates for s in ("female", "male")])
    have = {m for (m,) in con.execute("select distinct month from visits_raw").fetchall()}
    for earlier in window[:-1]:  # history the pipeline already has in its warehouse: untimed
        if earlier not in have and (landing / earlier).is_dir():
            _floor_load(con, landing, earlier, ("visits",))   # the aggregates read only its contacts
    started = time.perf_counter()
    rows = _floor_load(con, landing, month)
    loaded = time.perf_counter()
    month_end = (dt.date(int(month[:4]) + int(month[5:]) // 12, int(month[5:]) % 12 + 1, 1)
                 - dt.timedelta(days=1))
    params = {"month": month, "window_from": window[0], "month_end": month_end, "year": int(month[:4])}
    for statement in FLOOR_AGGREGATES.split(";"):
        if statement.strip():
            used = {k: v for k, v in params.items() if f"${k}" in statement}
            con.execute(statement, used)
    rows["coc_persons"] = con.execute("select count(*) from floor_coc").fetchone()[0]
    rows["capitation_sek"] = round(con.execute(
        "select sum(capitation_sek + acg_sek + cni_sek) from floor_capitation").fetchone()[0] or 0)
    finished = time.perf_counter()
    con.close()
    print(json.dumps({"load_s": round(loaded - started, 2), "aggregate_s": round(finished - loaded, 2),
                      "rows": rows}))


def _shift(month: str, k: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    n = y * 12 + m - 1 + k
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


# --- orchestration of the benchmark --------------------------------------------------------

def ensure_landing(landing: Path, months: list[str], scale: float) -> float | None:
    """Generate the synthetic landing files once per (months, scale); returns seconds or None."""
    marker = landing / ".benchmark_generated"
    wanted = f"{months[0]}..{months[-1]} scale={scale}"
    if marker.exists():
        have = re.fullmatch(r"(\d{4}-\d{2})\.\.(\d{4}-\d{2}) scale=(.*)", marker.read_text().strip())
        if have and have.group(1) == months[0] and have.group(2) >= months[-1] and float(have.group(3)) == scale:
            return None  # the same region, generated for at least these months
    print(f"generating {len(months)} months at scale {scale} in {landing} ...", flush=True)
    if landing.exists():
        shutil.rmtree(landing)
    started = time.perf_counter()
    subprocess.run([str(VARDVAL), "generate", "--from", months[0], "--to", months[-1], "--scale", str(scale),
                    "--landing", str(landing)], check=True, cwd=REPO)
    marker.write_text(wanted)
    return round(time.perf_counter() - started, 1)


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def copy_dir(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)
    os.sync()   # or the copy's write-back competes with the run measured next


def region(args, work: Path, logs: Path) -> dict:
    n = args.months
    months = months_from(FIRST_MONTH, 2 * n)
    landing = work / f"landing_scale{args.scale:g}"
    generated = ensure_landing(landing, months, args.scale)
    out: dict = {"scale": args.scale, "months_generated": f"{months[0]}..{months[-1]}",
                 "generation_s": generated}
    floor_db = work / "floor_region.duckdb"
    floor_db.unlink(missing_ok=True)

    print(f"[region] month {months[0]}, empty warehouse, cold process, x{args.repeat}", flush=True)
    cold = [pipeline_run(f"region_cold_{i}", landing, fresh(work / "data_cold"), months[0], months[0], logs)
            for i in range(args.repeat)]
    floor = [floor_run(f"floor_cold_{i}", landing, floor_db, months[0], logs) for i in range(args.repeat)]
    out["month_cold"] = {"month": months[0], "pipeline": median_of(cold), "floor": median_of(floor)}

    print(f"[region] backfill {months[0]}..{months[n - 1]} in one run", flush=True)
    data = fresh(work / "data_history")
    backfill = pipeline_run(f"region_backfill_{n}", landing, data, months[0], months[n - 1], logs)
    out["backfill"] = {"months": n, "from": months[0], "to": months[n - 1], "pipeline": median_of([backfill]),
                       "per_month_s": round(backfill["wall_s"] / n, 2)}

    def new_month(label: str, month: str, history: int) -> dict:
        # Each repeat runs the new month on the history restored *at the same path*: a region's
        # monthly run uses the data dir of the months before, and dbt's parse cache is only
        # valid for the data dir it was made in (a copy elsewhere re-parses, ~4 s).
        snapshot = work / f"snapshot_{label}"
        copy_dir(data, snapshot)
        runs = []
        for i in range(args.repeat):
            copy_dir(snapshot, data)
            runs.append(pipeline_run(f"region_{label}_{i}", landing, data, month, month, logs))
        copy_dir(snapshot, data)
        shutil.rmtree(snapshot)
        floors = [floor_run(f"floor_{label}_{i}", landing, floor_db, month, logs) for i in range(args.repeat)]
        return {"month": month, "history_months": history, "pipeline": median_of(runs), "floor": median_of(floors)}

    print(f"[region] month {months[n]} after {n} months of history, x{args.repeat}", flush=True)
    out["month_after_n"] = new_month("month_after_n", months[n], n)
    if 2 * n - 2 >= n:
        print(f"[region] backfill {months[n]}..{months[2 * n - 2]} (history)", flush=True)
        pipeline_run("region_history_2", landing, data, months[n], months[2 * n - 2], logs)
    print(f"[region] month {months[2 * n - 1]} after {2 * n - 1} months of history, x{args.repeat}", flush=True)
    out["month_after_2n"] = new_month("month_after_2n", months[2 * n - 1], 2 * n - 1)
    for key in ("month_cold", "month_after_n", "month_after_2n"):
        out[key]["ratio_pipeline_to_floor"] = ratios(out[key]["pipeline"], out[key]["floor"])
    a, b = out["month_after_n"]["pipeline"]["wall_s"], out["month_after_2n"]["pipeline"]["wall_s"]
    out["history_growth"] = round(b / a, 2)
    return out


def runtime_comparison(args, work: Path, logs: Path) -> dict:
    """A region month on an empty warehouse, cold, under each VARDVAL_RUNTIME value: plain, fast
    and plain with each piece alone. The repeats go round the values, so that a change in the
    machine's load falls on all of them alike."""
    from core.settings import RUNTIME_PIECES

    month = FIRST_MONTH
    landing = work / f"landing_scale{args.scale:g}"
    ensure_landing(landing, [month], args.scale)
    values = ["plain", "fast", *RUNTIME_PIECES] if args.runtimes == "all" else args.runtimes.split(";")
    runs: dict[str, list] = {value: [] for value in values}
    for i in range(args.repeat):
        for value in values:
            print(f"[runtime] {value}, month {month}, empty warehouse, repeat {i + 1}/{args.repeat}", flush=True)
            label = f"runtime_{value.replace(',', '+')}_{i}"
            runs[value].append(pipeline_run(label, landing, fresh(work / "data_runtime"), month, month, logs,
                                            runtime=value))
    out = {"month": month, "scale": args.scale, "values": {value: median_of(r) for value, r in runs.items()}}
    plain = out["values"]["plain"]
    for value, figures in out["values"].items():
        figures["wall_vs_plain_s"] = round(figures["wall_s"] - plain["wall_s"], 2)
        figures["cpu_vs_plain_s"] = round(figures["cpu_s"] - plain["cpu_s"], 2)
    return out


def runtime_markdown(runtime: dict) -> str:
    lines = [f"Region month {runtime['month']} (scale {runtime['scale']:g}), empty warehouse, cold process; "
             "medians; against `plain`:", "",
             "| VARDVAL_RUNTIME | wall s | vs plain | CPU s | vs plain | peak RSS MiB (process / tree) | dbt | load |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for value, f in runtime["values"].items():
        lines.append(f"| `{value}` | {f['wall_s']:.1f} | {f['wall_vs_plain_s']:+.1f} | {f['cpu_s']:.1f} | "
                     f"{f['cpu_vs_plain_s']:+.1f} | {f['peak_rss_mib']:.0f} / {f['peak_tree_rss_mib']:.0f} | "
                     f"{f['stages'].get('dbt', 0):.1f} | {f['load_before']:.1f} |")
    return "\n".join(lines) + "\n"


def national(args, work: Path, logs: Path) -> dict:
    """One national month on an empty warehouse or, with --national-history N, month N+1 after
    N months built by monthly runs (the window then holds 12 months of national contacts)."""
    n = args.national_history
    months = months_from(FIRST_MONTH, n + 1)
    month = months[-1]
    landing = work / f"landing_scale{NATIONAL_SCALE:g}"
    generated = ensure_landing(landing, months, NATIONAL_SCALE)
    repeat = args.national_repeat
    out: dict = {"scale": NATIONAL_SCALE, "month": month, "history_months": n, "generation_s": generated}
    data = work / "data_national"
    if n:
        # The history is built as a region runs it, a month per run; it is not measured
        # against a floor, only recorded. Repeats of the new month are not offered: a national
        # snapshot to restore is tens of GB.
        print(f"[national] history {months[0]}..{months[-2]}: one run a month", flush=True)
        fresh(data)
        history = [pipeline_run(f"national_history_{m}", landing, data, m, m, logs) for m in months[:-1]]
        out["history"] = {"months": n, "per_month_s": [r["wall_s"] for r in history],
                          "pipeline": median_of(history),
                          "warehouse_gib": round((data / "warehouse.duckdb").stat().st_size / 2**30, 2)}
        if repeat != 1:
            print("  --national-repeat is ignored with --national-history: the month runs once", flush=True)
        print(f"[national] month {month} after {n} months of history", flush=True)
        runs = [pipeline_run("national_after_history", landing, data, month, month, logs)]
    else:
        print(f"[national] month {month} at scale {NATIONAL_SCALE:g}, empty warehouse, x{repeat}", flush=True)
        runs = [pipeline_run(f"national_{i}", landing, fresh(data), month, month, logs) for i in range(repeat)]
    floor_db = work / "floor_national.duckdb"
    floor_db.unlink(missing_ok=True)
    floors = [floor_run(f"floor_national_{i}", landing, floor_db, month, logs) for i in range(len(runs))]
    out["pipeline"], out["floor"] = median_of(runs), median_of(floors)
    out["ratio_pipeline_to_floor"] = ratios(out["pipeline"], out["floor"])
    return out


def markdown(results: dict) -> str:
    stages = ["startup_and_summary", *STAGES.values()]
    lines = [f"Measured {results['measured_at']} on {results['machine']} "
             f"(`scripts/benchmark.py {results['arguments']}`); medians of the repeats.", "",
             "| run | repeats | wall s | CPU s | load | floor s | × floor | peak RSS MiB (process / tree) | "
             + " | ".join(stages) + " |",
             "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(stages)]

    def row(label: str, entry: dict, floor: dict | None, ratio: dict | None) -> None:
        p = entry
        cells = [label, str(p["repeats"]), f"{p['wall_s']:.1f}", f"{p.get('cpu_s', 0):.0f}",
                 f"{p.get('load_before', 0):.1f}",
                 f"{floor['wall_s']:.1f}" if floor else "—",
                 f"{ratio['total']:.2f}" if ratio and ratio.get("total") else "—",
                 f"{p['peak_rss_mib']:.0f} / {p['peak_tree_rss_mib']:.0f}"]
        cells += [f"{p['stages'].get(s, 0.0):.1f}" for s in stages]
        lines.append("| " + " | ".join(cells) + " |")

    reg = results.get("region")
    if reg:
        s = reg["scale"]
        for key, label in (("month_cold", "month {month}, empty warehouse"),
                           ("month_after_n", "month {month} ({history_months} months of history)"),
                           ("month_after_2n", "month {month} ({history_months} months of history)")):
            e = reg[key]
            row(f"region ×{s:g} " + label.format(**e), e["pipeline"], e["floor"], e["ratio_pipeline_to_floor"])
        b = reg["backfill"]
        row(f"region ×{s:g} backfill {b['months']} months ({b['per_month_s']:.1f} s/month)", b["pipeline"], None, None)
    nat = results.get("national")
    if nat:
        history = (f"{nat['history_months']} months of history" if nat.get("history_months")
                   else "empty warehouse")
        row(f"national ×{nat['scale']:g} month {nat['month']}, {history}", nat["pipeline"], nat["floor"],
            nat["ratio_pipeline_to_floor"])
        if nat.get("history"):
            h = nat["history"]
            row(f"national ×{nat['scale']:g} history: {h['months']} monthly runs (median; warehouse "
                f"{h['warehouse_gib']:.1f} GiB after)", h["pipeline"], None, None)
    lines += ["", "Pipeline / floor per stage (floor load vs reference+ingest; floor aggregates vs dbt):", "",
              "| run | ingest × | transform × | total × |", "|---|---:|---:|---:|"]
    entries = []
    if reg:
        entries += [(f"region {reg[k]['month']}", reg[k]["ratio_pipeline_to_floor"])
                    for k in ("month_cold", "month_after_n", "month_after_2n")]
    if nat:
        entries.append((f"national {nat['month']}", nat["ratio_pipeline_to_floor"]))
    for label, r in entries:
        lines.append(f"| {label} | {r['ingest']} | {r['transform']} | {r['total']} |")
    if reg:
        lines += ["", f"Month after {2 * reg['backfill']['months'] - 1} months of history / month after "
                      f"{reg['backfill']['months']}: ×{reg['history_growth']:.2f} (1.0 = no growth with history)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--floor-child":
        floor_child(Path(argv[1]), Path(argv[2]), argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="region scale (1.0 ≈ 286 000 listed)")
    parser.add_argument("--months", type=int, default=12,
                        help="N: backfill N months in one run, then time month N+1 and month 2N (default 12)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of each region month (medians)")
    parser.add_argument("--national-repeat", type=int, default=1, help="repeats of the national month")
    parser.add_argument("--national-history", type=int, default=0, metavar="N",
                        help="build N national months first (a run each), then time month N+1 "
                             "(12: the COC window holds 12 months of national contacts; ~1 h, ~60 GB)")
    parser.add_argument("--skip-national", action="store_true", help="leave out the national month (scale 37)")
    parser.add_argument("--skip-region", action="store_true", help="only the national month")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vardval-benchmark"),
                        help="landing files, data dirs and logs (generated files are reused)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmark_results.json")
    parser.add_argument("--runtimes", metavar="VALUES",
                        help="only compare VARDVAL_RUNTIME values on a region month, cold: 'all' (plain, fast "
                             "and plain with each piece alone) or values separated by ';' (docs/performance.md)")
    args = parser.parse_args(argv)
    if args.months < 2:
        parser.error("--months must be at least 2")
    work = args.workdir.resolve()
    logs = work / "logs"
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
                   f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "arguments": " ".join(argv),
    }
    def save() -> str:
        previous = json.loads(args.output.read_text()) if args.output.exists() else {}
        merged = dict(results)
        for part in ("region", "national"):  # keep the other part's figures when only one part ran
            if part not in merged and part in previous:
                merged[part] = previous[part]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(merged, indent=2) + "\n")
        table = markdown(merged)
        args.output.with_suffix(".md").write_text(table)
        return table

    if args.runtimes:
        runtime = runtime_comparison(args, work, logs)
        output = args.output.with_name("benchmark_runtime.json")
        output.write_text(json.dumps({**results, "runtime": runtime}, indent=2) + "\n")
        table = runtime_markdown(runtime)
        output.with_suffix(".md").write_text(table)
        print("\n" + table + f"\nwritten: {output} and {output.with_suffix('.md')}")
        return 0
    if not args.skip_region:
        results["region"] = region(args, work, logs)
        save()
    if not args.skip_national:
        results["national"] = national(args, work, logs)
    table = save()
    print("\n" + table)
    print(f"written: {args.output} and {args.output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
