"""Money is integers: 1 token = 10**9 units (seed 000). Nothing here touches a float."""

from __future__ import annotations

import re

from domain.errors import ErrorCode, LedgerError

DECIMALS = 9
UNIT = 10**DECIMALS
MAX_AMOUNT = 2**63 - 1

_TOKENS = re.compile(r"^(\d{1,19})(?:\.(\d{1,9}))?$")


def parse_tokens(text: str) -> int:
    """'12.5' -> 12_500_000_000 units. Refuses signs, exponents, >9 decimals, zero, overflow."""
    match = _TOKENS.match(text.strip())
    if not match:
        raise LedgerError(
            ErrorCode.AMOUNT_INVALID,
            f"{text!r} is not an amount in tokens (digits, optional '.', at most 9 decimals)",
        )
    whole, frac = match.group(1), match.group(2) or ""
    units = int(whole) * UNIT + int(frac.ljust(DECIMALS, "0"))
    check_amount(units)
    return units


def check_amount(units: int) -> int:
    """An amount moved by a transaction: an int in 1..2^63-1 (bool is not an int here)."""
    if type(units) is not int or not 0 < units <= MAX_AMOUNT:
        raise LedgerError(
            ErrorCode.AMOUNT_INVALID, f"amount must be an integer in 1..{MAX_AMOUNT}, got {units!r}"
        )
    return units


def format_units(units: int) -> str:
    """12_500_000_000 -> '12.5'; exact, no float."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNIT)
    text = f"{whole}.{frac:09d}".rstrip("0").rstrip(".")
    return sign + text
