"""Source contracts (SPEC §3): what a delivered row must satisfy to enter `raw.*`.

Each source module has `schema(month, ...)`, a pandera `DataFrameSchema` for the per-column
rules (types, allowed values, nullability, dates inside the month), and `validate(text, month,
units)`, which parses the reader's text frame, runs the schema lazily and adds the checks that
need other rows, other columns or the unit registry (duplicates, cross-column date rules,
unit known/type/open on a date). Every failure becomes a finding (line, column, reason), and a
row with any finding is quarantined; pandera's failure cases are mapped back to lines
through the frame's index, which is the source line.

Reason strings are read by data engineers: plain English, the column's value where it helps
(never a personnummer: those are masked in the quarantine's `masked_value`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from core.months import month_bounds
from sources.columnar import duckdb_over
from sources.personnummer import mask_series
from sources.reading import FINDING_COLUMNS, MAX_SHOWN

PII_COLUMNS = ("personnummer",)
VALUE = "{value}"  # placeholder in a pandera check's error, filled with the delivered value
_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00(?:\.0+)?)?)?$"  # Excel dates carry 00:00:00
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"
TRUE_WORDS, FALSE_WORDS = ("1", "true", "ja"), ("0", "false", "nej")
MAX_INTEGER = 2**53  # the largest integer a parsed float64 still holds exactly


@dataclass
class Findings:
    """Accumulates (line, column, reason) for one text frame (index = source line)."""
    text: pd.DataFrame
    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(self, hit, column: str | None, reason) -> None:
        """`hit`: boolean array/Series aligned with the frame; `reason`: a str, or a function
        of the hit mask returning one reason per hit row (built only when something failed)."""
        hit = np.asarray(hit, dtype=bool)
        if not hit.any():
            return
        why = reason if isinstance(reason, str) else np.asarray(reason(hit), dtype=object)
        self.parts.append(pd.DataFrame({"source_line": self.text.index[hit],
                                        "column_name": column, "reason": why}))

    def add_lines(self, lines, column: str | None, reason) -> None:
        self.parts.append(pd.DataFrame({"source_line": np.asarray(lines, dtype=np.int64),
                                        "column_name": column, "reason": reason}))

    def lines(self) -> pd.Index:
        if not self.parts:
            return pd.Index([], dtype=np.int64)
        return pd.Index(pd.concat([p["source_line"] for p in self.parts]).unique())

    def frame(self) -> pd.DataFrame:
        """FINDING_COLUMNS, with the delivered value shown (masked for personnummer)."""
        if not self.parts:
            return pd.DataFrame(columns=FINDING_COLUMNS)
        out = pd.concat(self.parts, ignore_index=True).drop_duplicates(
            ["source_line", "column_name", "reason"])
        shown = pd.Series(pd.NA, index=out.index, dtype="string")
        for column, rows in out.groupby("column_name", dropna=True).groups.items():
            values = self.text.loc[out.loc[rows, "source_line"], column]
            values = (mask_series(values) if column in PII_COLUMNS
                      else values.astype("string").str.slice(0, MAX_SHOWN))
            shown.loc[rows] = values.to_numpy()
        out["masked_value"] = shown
        return out[FINDING_COLUMNS]


@dataclass
class Checked:
    """The result of a contract: valid rows (typed, index = source line) and the findings."""
    valid: pd.DataFrame
    findings: pd.DataFrame


# --- parsing text into types (unparseable values become findings) -------------------------

def _by_unique(text: pd.Series, parse) -> tuple[pd.Series, np.ndarray]:
    """Parse each distinct value once (dates and flags repeat a lot in 10 million rows)."""
    codes, uniques = pd.factorize(text)
    parsed = parse(pd.Series(uniques, dtype="str"))
    values = parsed.take(np.where(codes < 0, 0, codes)) if len(parsed) else parsed.reindex(
        range(len(codes)))
    values = pd.Series(values.to_numpy(), index=text.index).where(codes >= 0)
    bad = (codes >= 0) & values.isna().to_numpy()
    return values, bad


def _shown(text: pd.Series, hit) -> pd.Series:
    return text[hit].astype("string").str.slice(0, MAX_SHOWN)


def parse_dates(text: pd.Series, findings: Findings, column: str) -> pd.Series:
    def parse(u: pd.Series) -> pd.Series:
        ok = u.str.match(_DATE)
        return pd.to_datetime(u.str.slice(0, 10).where(ok), format="%Y-%m-%d", errors="coerce")
    values, bad = _by_unique(text, parse)
    findings.add(bad, column, lambda hit: "unparseable date '" + _shown(text, hit) + "'")
    return values.astype("datetime64[s]")


def parse_timestamps(text: pd.Series, findings: Findings, column: str) -> pd.Series:
    def parse(u: pd.Series) -> pd.Series:
        ok = u.str.match(_TIMESTAMP)
        return pd.to_datetime(u.where(ok).str.replace("T", " ", regex=False),
                              format="ISO8601", errors="coerce")
    values, bad = _by_unique(text, parse)
    findings.add(bad, column, lambda hit: "unparseable timestamp '" + _shown(text, hit) + "'")
    return values.astype("datetime64[us]")


def parse_bools(text: pd.Series, findings: Findings, column: str) -> pd.Series:
    def parse(u: pd.Series) -> pd.Series:
        low = u.str.lower()
        return pd.Series(np.where(low.isin(TRUE_WORDS), True, np.where(
            low.isin(FALSE_WORDS), False, None)), dtype="boolean")
    values, bad = _by_unique(text, parse)
    findings.add(bad, column, lambda hit: "unparseable boolean '" + _shown(text, hit)
                 + "' (expected 1/0, true/false or ja/nej)")
    return values.astype("boolean")


def parse_numbers(text: pd.Series, findings: Findings, column: str,
                  integer: bool = False) -> pd.Series:
    """Decimal point or (Swedish) decimal comma; integers must be whole."""
    def parse(u: pd.Series) -> pd.Series:
        pattern = r"^[+-]?\d+$" if integer else r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$"
        ok = u.str.match(pattern)
        return pd.to_numeric(u.where(ok).str.replace(",", ".", regex=False), errors="coerce")
    values, bad = _by_unique(text, parse)
    kind = "integer" if integer else "number"
    findings.add(bad, column, lambda hit: f"unparseable {kind} '" + _shown(text, hit) + "'")
    if integer:  # digits beyond what an integer column holds exactly: a finding, not a crash
        huge = (values.abs() > MAX_INTEGER).fillna(False).to_numpy()
        findings.add(huge, column, lambda hit: "integer '" + _shown(text, hit)
                     + f"' out of range (at most {MAX_INTEGER:,})")
        values = values.where(~huge)
    return values.astype("Int64" if integer else "float64")


def lower(text: pd.Series) -> pd.Series:
    """Allowed-value columns are matched case-insensitively and stored in lower case."""
    return text.str.lower()


# --- pandera ------------------------------------------------------------------------------

def allowed(column: str, values) -> pa.Check:
    return pa.Check.isin(list(values), error=f"{column} '{VALUE}' is not one of "
                                             f"{', '.join(values)}")


def run_schema(schema: pa.DataFrameSchema, typed: pd.DataFrame, findings: Findings) -> None:
    """Validate lazily and turn pandera's failure cases into findings. A missing value where
    the text could not be parsed is not reported twice."""
    try:
        schema.validate(typed, lazy=True)
        return
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    if cases["index"].isna().any():  # a schema-level failure (dtype, column): our bug
        raise RuntimeError(f"contract {schema.name} does not fit the parsed frame:\n"
                           f"{cases[cases['index'].isna()].head(10)}")
    already = {(line, col) for part in findings.parts
               for line, col in zip(part["source_line"], part["column_name"])}
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        lines = group["index"].astype(np.int64).to_numpy()
        if check == "not_nullable":
            lines = np.array([ln for ln in lines if (ln, column) not in already], dtype=np.int64)
            findings.add_lines(lines, column, f"missing {column}")
        elif VALUE in check:
            shown = findings.text.loc[lines, column].astype("string").str.slice(0, MAX_SHOWN)
            head, tail = check.split(VALUE, 1)
            findings.add_lines(lines, column, (head + shown + tail).to_numpy(dtype=object))
        else:
            findings.add_lines(lines, column, check)


# --- context checks ---------------------------------------------------------------------

def _fmt(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("string")


def check_units(findings: Findings, hsa: pd.Series, on, units: pd.DataFrame,
                unit_types: tuple[str, ...] | None = None,
                column: str = "vardcentral_hsa_id") -> None:
    """The unit must be in the registry, of an allowed type, and open on `on` (a date or a
    Series of dates): opened_on <= on and closed_on empty or >= on."""
    registry = units.drop_duplicates("hsa_id").set_index("hsa_id")
    # Each distinct unit is looked up once and only its booleans and dates are spread over the
    # rows (a national file has millions of rows, a thousand units); text only for the hits.
    codes, distinct = pd.factorize(hsa)
    if len(distinct) == 0:
        return
    found = registry.reindex(pd.Index(distinct, dtype=object))
    given = codes >= 0
    picks = np.where(given, codes, 0)

    def per_row(per_unit: np.ndarray) -> np.ndarray:
        return per_unit[picks]

    known = given & per_row(found.index.isin(registry.index))
    findings.add(given & ~known, column, "unknown unit")
    if unit_types is not None:
        unit_type = found["unit_type"]
        findings.add(known & ~per_row(unit_type.isin(unit_types).to_numpy()), column,
                     lambda hit: "unit type " + pd.Series(per_row(unit_type.to_numpy(dtype=object))[hit])
                     .astype("string") + ", expected " + " or ".join(unit_types))
    opened = per_row(pd.to_datetime(found["opened_on"]).to_numpy().astype("datetime64[s]"))
    closed = per_row(pd.to_datetime(found["closed_on"]).to_numpy().astype("datetime64[s]"))
    when = (on.to_numpy().astype("datetime64[s]") if isinstance(on, pd.Series)
            else np.full(len(codes), np.datetime64(pd.Timestamp(on), "s")))

    def dates(values: np.ndarray, hit: np.ndarray) -> pd.Series:
        return _fmt(pd.Series(values[hit]))

    findings.add(known & (opened > when), column,   # NaT compares False: no date, no finding
                 lambda hit: "unit not yet open on " + dates(when, hit) + " (opened_on "
                 + dates(opened, hit) + ")")
    findings.add(known & (closed < when), column,
                 lambda hit: "unit closed on " + dates(when, hit) + " (closed_on "
                 + dates(closed, hit) + ")")


def check_unique(findings: Findings, values: pd.Series, column: str, reason: str) -> None:
    """Every copy of a repeated value is a finding (we cannot tell which one is right)."""
    if not may_repeat(values):
        return
    findings.add(values.notna() & values.duplicated(keep=False), column, reason)


# From this many rows, first ask DuckDB whether any row repeats at all (the usual answer is
# no): on a national listing's 10.6 million personnummer, 1.3 s against pandas' 4.5 s, and
# ~0.4 GiB less at the read's peak. Only a delivery with repeats pays for pandas' answer.
_COUNTED_IN_DUCKDB_FROM = 100_000


def may_repeat(values: pd.Series | pd.DataFrame) -> bool:
    """False only when no two rows are equal (missing values counted as equal, so a False
    holds for pandas' `duplicated` too). Small inputs are left to pandas: True."""
    if len(values) < _COUNTED_IN_DUCKDB_FROM:
        return True
    import pyarrow

    frame = values.to_frame("value") if isinstance(values, pd.Series) else values
    try:
        table = pyarrow.table({f"c{i}": pyarrow.array(frame[c], from_pandas=True)
                               for i, c in enumerate(frame.columns)})
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return True  # mixed types: let pandas decide
    # Distinct 64-bit hashes of the rows: a collision can only make this say True, which the
    # caller's exact check then settles; distinct rows themselves held a national ACG file's
    # 21 M keys in a hash table (~2.8 GiB at the reference load's peak).
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    with duckdb_over(table, "checked_rows") as con:
        distinct = con.execute(f"select count(distinct hash({columns})) from checked_rows").fetchone()[0]
    return distinct != len(frame)


def month_timestamps(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The month's first and last day (core.months.month_bounds) as pandas timestamps, the
    type the parsed frames compare with."""
    first, last = month_bounds(month)
    return pd.Timestamp(first), pd.Timestamp(last)


def finish(typed: pd.DataFrame, findings: Findings) -> Checked:
    """Rows without any finding are valid."""
    bad = typed.index.isin(findings.lines())
    return Checked(valid=typed[~bad], findings=findings.frame())
