"""The reimbursement model (SPEC §6, §10.1): `reference/reimbursement_model.yaml`, validated on load.

What it reads: one YAML file with `versions:`, each a full set of the parameters of SPEC §6.
What it promises downstream: a `ReimbursementModel` whose versions are sorted, gap- and
overlap-free, with capitation bands covering every age exactly once, geography tiers 0-3,
visit-fee rules that end in a catch-all, a visits-elsewhere deduction per performing unit type,
goals and follow-up targets on real indicator codes with low/high in the order of their
direction; and
`model_tables()`, the frames of `raw.model_*` exactly as in `core/warehouse.py`.
Where bad input goes: nowhere silently. Any problem raises `ModelValidationError` naming the
file and the path of the offending key, e.g.
`reimbursement_model.yaml: versions[1].capitation[2].age_to: bands 20-39 and 35-64 overlap at age 35`.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictFloat, StrictInt, ValidationError

from core import indicator_catalogue
from core.vocabulary import CONTACT_TYPES, LICENSED_PROFESSIONS, PROFESSIONS, RURAL_TIERS, band_label

GEOGRAPHY_TIERS = RURAL_TIERS

# SPEC §5: the codes a goal may refer to, and which are split by profession (the rest have
# profession 'all' in indicators_monthly), come from the indicator catalogue.
INDICATOR_CODES = indicator_catalogue.codes()
PROFESSION_SPLIT_INDICATORS = indicator_catalogue.codes(is_split_by_profession=True)
# Indicators whose value is a share (or a mean COC) in [0, 1]: thresholds must lie there too.
UNIT_INTERVAL_INDICATORS = indicator_catalogue.codes_in_unit_interval()

# |total - Σ components| and |Σ person rows - VC row| allowed per VC and month (SEK), in the
# reconciliations and in dbt's test (var amount_tolerance_sek, kept equal by a test)
AMOUNT_TOLERANCE_SEK = 0.005
# The performing unit types a visits-elsewhere deduction is priced by (SPEC §6, §10.1); a
# filial's visit is priced as its parent VC's.
DEDUCTION_UNIT_TYPES = ("vardcentral", "jour", "digital")

# SEK: ints or floats; strings and booleans are a type error (StrictFloat accepts ints).
Amount = StrictFloat


class ModelValidationError(ValueError):
    """A reimbursement model file that cannot be used; the message names file and key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapitationBand(_Strict):
    age_from: StrictInt = Field(ge=0)
    age_to: StrictInt | None = Field(ge=0)
    female: Amount = Field(ge=0)
    male: Amount = Field(ge=0)

    @property
    def label(self) -> str:
        return band_label(self.age_from, self.age_to)


class VisitFeeRule(_Strict):
    contact_type: Literal[(*CONTACT_TYPES, "*")]
    profession: Literal[(*PROFESSIONS, "*")]
    own_listed: Amount = Field(ge=0)
    other_listed: Amount = Field(ge=0)
    not_listed: Amount = Field(ge=0)

    def covers(self, other: VisitFeeRule) -> bool:
        """True when every contact `other` matches is already matched by this rule."""
        return (self.contact_type in ("*", other.contact_type)
                and self.profession in ("*", other.profession))


TargetProfession = Literal[("all", *LICENSED_PROFESSIONS)]


class Goal(_Strict):
    indicator: str
    profession: TargetProfession
    direction: Literal["higher", "lower"] = "higher"
    payout: Literal["all_or_nothing", "linear"]
    low: StrictFloat | None = None
    high: StrictFloat
    sek_per_listed_month: Amount = Field(ge=0)


class FollowUpTarget(_Strict):
    """A target that pays nothing: shown against the indicator in statements and the report."""
    indicator: str
    profession: TargetProfession
    direction: Literal["higher", "lower"] = "higher"
    low: StrictFloat | None = None
    high: StrictFloat


class StartGrant(_Strict):
    sek_per_month: Amount = Field(ge=0)
    months: StrictInt = Field(ge=0)


class ModelVersion(_Strict):
    valid_from: dt.date
    valid_to: dt.date | None = None  # inclusive; omitted or null = open-ended
    capitation: list[CapitationBand] = Field(min_length=1)
    acg_sek_per_weight_year: Amount = Field(ge=0)
    cni_sek_per_listed_year: Amount = Field(ge=0)
    geography_sek_per_month: dict[StrictInt, Amount]
    sabo_sek_per_resident_month: Amount = Field(ge=0)
    visit_fees: list[VisitFeeRule] = Field(min_length=1)
    # One amount for every performing unit type, or one per type naming all three.
    visits_elsewhere_deduction_sek: Amount | dict[str, Amount]
    goals: list[Goal]
    follow_up_targets: list[FollowUpTarget] = []
    start_grant: StartGrant
    vat_compensation_pct: StrictFloat = Field(ge=0, le=100)

    _version_id: int = PrivateAttr(default=0)

    @property
    def version_id(self) -> int:
        """1, 2, ... in order of valid_from (as in raw.model_versions)."""
        return self._version_id

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def deduction_per_unit_type(self) -> dict[str, float]:
        """SEK deducted per visit elsewhere, by the performing unit's type."""
        rates = self.visits_elsewhere_deduction_sek
        if isinstance(rates, dict):
            return {unit_type: float(rates[unit_type]) for unit_type in DEDUCTION_UNIT_TYPES}
        return {unit_type: float(rates) for unit_type in DEDUCTION_UNIT_TYPES}


class ReimbursementModel(_Strict):
    versions: list[ModelVersion] = Field(min_length=1)


# --------------------------------------------------------------------------------------------
# Loading


def load_model(path: Path | str) -> ReimbursementModel:
    """Read, parse and validate the model file; raise ModelValidationError on any problem."""
    path = Path(path)
    name = path.name
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelValidationError(f"{name}: file not found ({path})") from None
    except yaml.YAMLError as exc:
        raise ModelValidationError(f"{name}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ModelValidationError(f"{name}: expected a mapping with the key 'versions'")
    try:
        model = ReimbursementModel.model_validate(document)
    except ValidationError as exc:
        raise ModelValidationError(_format_pydantic(name, exc)) from None
    problems = _semantic_problems(model)
    if problems:
        raise ModelValidationError("\n".join(f"{name}: {where}: {what}" for where, what in problems))
    for version_id, version in enumerate(model.versions, start=1):
        version._version_id = version_id
    return model


def _format_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            out += " (the key)"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _format_pydantic(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        # Drop the union/tagged-type noise pydantic adds to a location (e.g. 'int', 'float').
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in ("int", "float", "date", "none")))
        where = _format_path(loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown key"
        elif "input" in error and error["type"] != "missing":
            message = f"{message} (got {error['input']!r})"
        lines.append(f"{name}: {where}: {message}")
    # Keep one line per location (a union type reports each alternative).
    return "\n".join(dict.fromkeys(lines))


def _semantic_problems(model: ReimbursementModel) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    versions = model.versions
    for i, version in enumerate(versions):
        where = f"versions[{i}]"
        problems += _version_period_problems(versions, i)
        problems += _capitation_problems(where, version.capitation)
        tiers = set(version.geography_sek_per_month)
        for tier in sorted(set(GEOGRAPHY_TIERS) - tiers):
            problems.append((f"{where}.geography_sek_per_month", f"tier {tier} is missing (tiers 0-3 are required)"))
        for tier in sorted(tiers - set(GEOGRAPHY_TIERS)):
            problems.append((f"{where}.geography_sek_per_month.{tier}", "unknown rural tier (tiers are 0-3)"))
        for tier, amount in version.geography_sek_per_month.items():
            if amount < 0:
                problems.append((f"{where}.geography_sek_per_month.{tier}", "amount must be >= 0"))
        problems += _visit_fee_problems(where, version.visit_fees)
        problems += _deduction_problems(f"{where}.visits_elsewhere_deduction_sek",
                                        version.visits_elsewhere_deduction_sek)
        for g, goal in enumerate(version.goals):
            problems += _goal_problems(f"{where}.goals[{g}]", goal)
        for t, target in enumerate(version.follow_up_targets):
            problems += _target_problems(f"{where}.follow_up_targets[{t}]", target, low_required=False)
    return problems


def _deduction_problems(where: str, rates: float | dict[str, float]) -> list[tuple[str, str]]:
    if not isinstance(rates, dict):
        return [] if rates >= 0 else [(where, f"amount {rates} must be >= 0")]
    problems = []
    for unit_type in DEDUCTION_UNIT_TYPES:
        if unit_type not in rates:
            problems.append((where, f"unit type {unit_type} is missing (per unit type, name all three: "
                             f"{', '.join(DEDUCTION_UNIT_TYPES)})"))
    for unit_type, amount in rates.items():
        if unit_type not in DEDUCTION_UNIT_TYPES:
            problems.append((f"{where}.{unit_type}", f"unknown unit type (one of {', '.join(DEDUCTION_UNIT_TYPES)})"))
        elif amount < 0:
            problems.append((f"{where}.{unit_type}", f"amount {amount} must be >= 0"))
    return problems


def _version_period_problems(versions: list[ModelVersion], i: int) -> list[tuple[str, str]]:
    version = versions[i]
    where = f"versions[{i}]"
    problems = []
    if version.valid_from.day != 1:
        problems.append((f"{where}.valid_from", f"{version.valid_from} is not the first day of a month (the version "
                         "valid on a month's first day applies to the whole month)"))
    if version.valid_to is not None and (version.valid_to + dt.timedelta(days=1)).day != 1:
        problems.append((f"{where}.valid_to", f"{version.valid_to} is not the last day of a month"))
    if version.valid_to is not None and version.valid_to < version.valid_from:
        problems.append((f"{where}.valid_to", f"{version.valid_to} is before valid_from {version.valid_from}"))
    if version.valid_to is None and i < len(versions) - 1:
        problems.append((f"{where}.valid_to", "only the last version may be open-ended (valid_to null)"))
    if i > 0:
        previous = versions[i - 1]
        if previous.valid_to is None:
            pass  # reported above for the previous version
        elif version.valid_from <= previous.valid_from:
            problems.append((f"{where}.valid_from", f"versions must be sorted by valid_from: "
                             f"{version.valid_from} is not after versions[{i - 1}].valid_from {previous.valid_from}"))
        elif version.valid_from <= previous.valid_to:
            problems.append((f"{where}.valid_from", f"overlaps versions[{i - 1}] "
                             f"({previous.valid_from}..{previous.valid_to}) from {version.valid_from}"))
        elif version.valid_from > previous.valid_to + dt.timedelta(days=1):
            gap_to = version.valid_from - dt.timedelta(days=1)
            problems.append((f"{where}.valid_from", f"gap after versions[{i - 1}]: no version is valid "
                             f"{previous.valid_to + dt.timedelta(days=1)}..{gap_to}"))
    return problems


def _capitation_problems(where: str, bands: list[CapitationBand]) -> list[tuple[str, str]]:
    problems = []
    order = sorted(range(len(bands)), key=lambda b: bands[b].age_from)
    for b, band in enumerate(bands):
        if band.age_to is not None and band.age_to < band.age_from:
            problems.append((f"{where}.capitation[{b}].age_to", f"age_to {band.age_to} is below age_from {band.age_from}"))
    first = bands[order[0]]
    if first.age_from != 0:
        problems.append((f"{where}.capitation[{order[0]}].age_from",
                         f"ages 0-{first.age_from - 1} are not covered (the first band must start at 0)"))
    for previous_index, next_index in zip(order, order[1:]):
        previous, following = bands[previous_index], bands[next_index]
        at = f"{where}.capitation[{previous_index}].age_to"
        if previous.age_to is None:
            problems.append((at, f"band {previous.label} is open-ended but band {following.label} follows "
                             f"(overlap at age {following.age_from}); only the last band may have age_to null"))
        elif following.age_from <= previous.age_to:
            problems.append((at, f"bands {previous.label} and {following.label} overlap at age {following.age_from}"))
        elif following.age_from > previous.age_to + 1:
            gap = (f"age {previous.age_to + 1}" if following.age_from == previous.age_to + 2
                   else f"ages {previous.age_to + 1}-{following.age_from - 1}")
            problems.append((at, f"bands {previous.label} and {following.label} leave {gap} uncovered"))
    last_index = order[-1]
    if bands[last_index].age_to is not None:
        problems.append((f"{where}.capitation[{last_index}].age_to",
                         f"ages above {bands[last_index].age_to} are not covered (the last band needs age_to null)"))
    return problems


def _visit_fee_problems(where: str, rules: list[VisitFeeRule]) -> list[tuple[str, str]]:
    problems = []
    for r, rule in enumerate(rules):
        for e, earlier in enumerate(rules[:r]):
            if earlier.covers(rule):
                problems.append((f"{where}.visit_fees[{r}]", f"rule ({rule.contact_type}, {rule.profession}) "
                                 f"never applies: visit_fees[{e}] ({earlier.contact_type}, {earlier.profession}) "
                                 "matches first"))
                break
    last = rules[-1]
    if (last.contact_type, last.profession) != ("*", "*"):
        problems.append((f"{where}.visit_fees[{len(rules) - 1}]", "the last rule must match every contact "
                         '(contact_type: "*", profession: "*"); give it zero fees to pay nothing'))
    return problems


def _goal_problems(where: str, goal: Goal) -> list[tuple[str, str]]:
    if goal.payout == "all_or_nothing" and goal.low is not None:
        return [(f"{where}.low", "low is only used by payout linear; remove it for all_or_nothing"),
                *_target_problems(where, goal.model_copy(update={"low": None}), low_required=False)]
    return _target_problems(where, goal, low_required=goal.payout == "linear")


def _target_problems(where: str, target: Goal | FollowUpTarget, low_required: bool) -> list[tuple[str, str]]:
    """A goal's or follow-up target's indicator, profession, and low/high in its direction's order."""
    problems = []
    if target.indicator not in INDICATOR_CODES:
        problems.append((f"{where}.indicator", f"unknown indicator {target.indicator!r} "
                         f"(one of SPEC §5: {', '.join(INDICATOR_CODES)})"))
    elif target.profession != "all" and target.indicator not in PROFESSION_SPLIT_INDICATORS:
        problems.append((f"{where}.profession", f"{target.indicator} is not split by profession; use 'all' "
                         f"(only {', '.join(PROFESSION_SPLIT_INDICATORS)} are)"))
    lower = target.direction == "lower"
    order = "low > high" if lower else "low < high"
    if target.low is None:
        if low_required:
            problems.append((f"{where}.low", f"required key is missing (a linear goal needs {order})"))
    elif (target.low <= target.high) if lower else (target.low >= target.high):
        problems.append((f"{where}.low", f"low {target.low} must be {'above' if lower else 'below'} high "
                         f"{target.high} (direction {target.direction}: {order})"))
    if target.indicator in UNIT_INTERVAL_INDICATORS:
        for key in ("low", "high"):
            value = getattr(target, key)
            if value is not None and not 0 <= value <= 1:
                problems.append((f"{where}.{key}", f"{target.indicator} is a share in [0, 1]; {key} {value} is outside"))
    return problems


# --------------------------------------------------------------------------------------------
# Using a loaded model


def version_for_month(model: ReimbursementModel, month: str) -> ModelVersion:
    """The version valid on the month's first day ('YYYY-MM'); LookupError when none is."""
    first_day = dt.date.fromisoformat(f"{month}-01")
    for version in model.versions:
        if version.is_valid_on(first_day):
            return version
    raise LookupError(f"no reimbursement model version is valid on {first_day} (month {month})")


def model_tables(model: ReimbursementModel) -> dict[str, pd.DataFrame]:
    """Frames for raw.model_versions, _capitation, _geography, _visit_fees, _deductions, _goals and
    _follow_up_targets (RAW_DDL columns)."""
    versions, capitation, geography, visit_fees, deductions, goals, targets = [], [], [], [], [], [], []
    for version_id, version in enumerate(model.versions, start=1):
        versions.append({
            "version_id": version_id,
            "valid_from": version.valid_from,
            "valid_to": version.valid_to,
            "acg_sek_per_weight_year": float(version.acg_sek_per_weight_year),
            "cni_sek_per_listed_year": float(version.cni_sek_per_listed_year),
            "sabo_sek_per_resident_month": float(version.sabo_sek_per_resident_month),
            "start_grant_sek_per_month": float(version.start_grant.sek_per_month),
            "start_grant_months": version.start_grant.months,
            "vat_compensation_pct": float(version.vat_compensation_pct),
        })
        for band in sorted(version.capitation, key=lambda b: b.age_from):
            capitation.append({"version_id": version_id, "age_from": band.age_from, "age_to": band.age_to,
                               "female_sek_year": float(band.female), "male_sek_year": float(band.male)})
        for tier in sorted(version.geography_sek_per_month):
            geography.append({"version_id": version_id, "rural_tier": tier,
                              "sek_per_month": float(version.geography_sek_per_month[tier])})
        for rule_order, rule in enumerate(version.visit_fees, start=1):
            visit_fees.append({"version_id": version_id, "rule_order": rule_order,
                               "contact_type": rule.contact_type, "profession": rule.profession,
                               "own_listed": float(rule.own_listed), "other_listed": float(rule.other_listed),
                               "not_listed": float(rule.not_listed)})
        for unit_type, amount in version.deduction_per_unit_type().items():
            deductions.append({"version_id": version_id, "unit_type": unit_type, "sek_per_visit": amount})
        for goal_order, goal in enumerate(version.goals, start=1):
            goals.append({"version_id": version_id, "goal_order": goal_order, "indicator": goal.indicator,
                          "profession": goal.profession, "payout": goal.payout,
                          "low": None if goal.low is None else float(goal.low), "high": float(goal.high),
                          "sek_per_listed_month": float(goal.sek_per_listed_month),
                          "direction": goal.direction})
        for target_order, target in enumerate(version.follow_up_targets, start=1):
            targets.append({"version_id": version_id, "target_order": target_order,
                            "indicator": target.indicator, "profession": target.profession,
                            "direction": target.direction,
                            "low": None if target.low is None else float(target.low),
                            "high": float(target.high)})
    columns = {
        "model_versions": ["version_id", "valid_from", "valid_to", "acg_sek_per_weight_year",
                           "cni_sek_per_listed_year", "sabo_sek_per_resident_month",
                           "start_grant_sek_per_month",
                           "start_grant_months", "vat_compensation_pct"],
        "model_capitation": ["version_id", "age_from", "age_to", "female_sek_year", "male_sek_year"],
        "model_geography": ["version_id", "rural_tier", "sek_per_month"],
        "model_visit_fees": ["version_id", "rule_order", "contact_type", "profession", "own_listed",
                             "other_listed", "not_listed"],
        "model_deductions": ["version_id", "unit_type", "sek_per_visit"],
        "model_goals": ["version_id", "goal_order", "indicator", "profession", "payout", "low", "high",
                        "sek_per_listed_month", "direction"],
        "model_follow_up_targets": ["version_id", "target_order", "indicator", "profession", "direction",
                                    "low", "high"],
    }
    rows = {"model_versions": versions, "model_capitation": capitation, "model_geography": geography,
            "model_visit_fees": visit_fees, "model_deductions": deductions, "model_goals": goals,
            "model_follow_up_targets": targets}
    frames = {}
    for table, table_columns in columns.items():
        frame = pd.DataFrame(rows[table], columns=table_columns)
        for column in ("valid_from", "valid_to"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column]).dt.date
        for column in ("age_to", "start_grant_months", "version_id", "rule_order", "goal_order", "age_from",
                       "rural_tier", "target_order"):
            if column in frame:
                frame[column] = frame[column].astype("Int32")
        for column in ("low",):
            if column in frame:
                frame[column] = frame[column].astype("Float64")
        frames[table] = frame
    return frames
