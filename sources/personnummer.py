"""Swedish personal identity numbers: parsing, check digit, sex and birth date, masking.

Vectorised over pandas Series so that a national listing (10.6 million rows) parses in seconds.
A personnummer never leaves this module unmasked except into `pseudonym.pseudonymise`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PERSONNUMMER = "personnummer"
SAMORDNINGSNUMMER = "samordningsnummer"
RESERVE = "reserve"
INVALID = "invalid"

_TWELVE_DIGITS = r"^\d{8}-?\d{4}$"


def luhn_check_digit(nine_digits: np.ndarray) -> np.ndarray:
    """Check digit for an (n, 9) integer array of the 10-digit form's first nine digits."""
    weights = np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    products = nine_digits * weights
    digit_sums = products // 10 + products % 10
    return (10 - digit_sums.sum(axis=1) % 10) % 10


def _digits(strings: pd.Series, width: int) -> np.ndarray:
    raw = strings.to_numpy(dtype=f"U{width}").view(np.uint32).reshape(-1, width)
    return raw.astype(np.int64) - ord("0")


def classify(values: pd.Series) -> pd.DataFrame:
    """Classify raw identity values.

    Returns columns: normalized (12 digits, or None), kind (personnummer, samordningsnummer,
    reserve or invalid), invalid_reason, birth_date, sex ('female'/'male', None if unknown).
    A 12-digit value (optionally with a hyphen) must be a valid personnummer or
    samordningsnummer (day + 60); anything else is a reserve number.
    """
    text = values.astype("string").str.strip()
    is_twelve = text.str.match(_TWELVE_DIGITS).fillna(False).astype(bool)
    normalized = text.where(is_twelve).str.replace("-", "", regex=False)

    out = pd.DataFrame(index=values.index)
    out["normalized"] = normalized
    out["kind"] = RESERVE
    out["invalid_reason"] = pd.Series(pd.NA, index=values.index, dtype="string")
    out["birth_date"] = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    out["sex"] = pd.Series(pd.NA, index=values.index, dtype="string")
    out.loc[text.isna() | (text == ""), "kind"] = INVALID
    out.loc[text.isna() | (text == ""), "invalid_reason"] = "missing identity number"
    if not is_twelve.any():
        return out

    twelve = normalized[is_twelve]
    digits = _digits(twelve, 12)
    day = digits[:, 6] * 10 + digits[:, 7]
    is_coordination = day > 60
    real_day = np.where(is_coordination, day - 60, day)
    date_text = pd.Series(twelve.str.slice(0, 6).to_numpy(), index=twelve.index) + pd.Series(
        np.char.zfill(real_day.astype(str), 2), index=twelve.index
    )
    birth = pd.to_datetime(date_text, format="%Y%m%d", errors="coerce")
    luhn_ok = luhn_check_digit(digits[:, 2:11]) == digits[:, 11]
    date_ok = birth.notna().to_numpy()

    kind = np.where(is_coordination, SAMORDNINGSNUMMER, PERSONNUMMER).astype(object)
    reason = np.full(len(twelve), None, dtype=object)
    reason[~luhn_ok] = "invalid check digit"
    reason[~date_ok] = "impossible birth date"
    kind[~(luhn_ok & date_ok)] = INVALID

    out.loc[twelve.index, "kind"] = kind
    out.loc[twelve.index, "invalid_reason"] = pd.array(reason, dtype="string")
    out.loc[twelve.index, "birth_date"] = birth.to_numpy().astype("datetime64[s]")
    sex = np.where(digits[:, 10] % 2 == 1, "male", "female").astype(object)
    sex[~(luhn_ok & date_ok)] = None
    out.loc[twelve.index, "sex"] = pd.array(sex, dtype="string")
    out.loc[out["kind"] == INVALID, "birth_date"] = pd.NaT
    return out


def mask(value: object) -> str:
    """A pointer to a row that holds no identity: '19850312-****'."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = str(value).strip().replace("-", "")
    if len(text) >= 8 and text[:8].isdigit():
        return f"{text[:8]}-****"
    return "****"


def mask_series(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str.replace("-", "", regex=False)
    head = text.str.slice(0, 8)
    masked = head + "-****"
    return masked.where(head.str.match(r"^\d{8}$").fillna(False).astype(bool), "****").fillna("")
