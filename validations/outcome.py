"""The result of one check on one month, as the gate, Dagster and the CLI show it."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CheckOutcome:
    name: str                 # stable id, e.g. 'components_sum_to_total' or 'ge:reimbursement_monthly:...'
    table: str                # the mart it concerns ('marts.reimbursement_monthly')
    passed: bool
    blocking: bool            # a failed blocking check stops publication; a failed warning does not
    description: str          # one sentence a controller can act on (names the VC/figure on failure)
    metadata: dict[str, Any] = field(default_factory=dict)  # counts and a small sample, never a person_key

    @property
    def severity(self) -> str:
        return "ERROR" if self.blocking else "WARN"

    @property
    def blocks(self) -> bool:
        return self.blocking and not self.passed

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_jsonable))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckOutcome":
        return cls(name=data["name"], table=data["table"], passed=bool(data["passed"]),
                   blocking=bool(data["blocking"]), description=data["description"],
                   metadata=dict(data.get("metadata") or {}))


def _jsonable(value: Any) -> Any:
    """numpy scalars, dates, NaN -> plain JSON values."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def summarise(outcomes: list[CheckOutcome]) -> dict[str, Any]:
    failed_blocking = [o for o in outcomes if o.blocks]
    warnings = [o for o in outcomes if not o.passed and not o.blocking]
    return {
        "checks": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "failed_blocking": [o.name for o in failed_blocking],
        "warnings": [o.name for o in warnings],
        "may_publish": not failed_blocking,
    }
