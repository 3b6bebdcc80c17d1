"""The SDK's exceptions (seed 000's names), each with a stable string code and a number.

``AIRPCError``: the node answered with a JSON-RPC error object (or could not be reached:
then ``unavailable``). ``AIValidationError``: the SDK refused the request locally, before
anything was sent (a body the ledger would refuse, a solution too large to inline, ...);
its code is the one the ledger would have answered.
"""

from __future__ import annotations

from typing import Any

from domain.errors import ErrorCode, LedgerError

# Codes after which the transaction's fate is unknown: it may still be sequenced.
UNCERTAIN_CODES = frozenset({"timeout", "unavailable"})
NONCE_CODES = frozenset({"nonce_stale", "nonce_gap"})


def number_of(code: str) -> int:
    try:
        return ErrorCode.from_code(code).number
    except KeyError:
        return 0


class AIError(Exception):
    """Base of the SDK's errors: ``code`` (stable string), ``number``, ``message``, ``data``."""

    def __init__(self, code: str, message: str = "", number: int | None = None,
                 data: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.code = code
        self.number = number_of(code) if number is None else number
        self.message = message
        self.data: dict[str, Any] = data or {}
        super().__init__(f"{code} ({self.number}): {message}" if message else code)


class AIRPCError(AIError):
    """A JSON-RPC error object from the node.

    Seed 000 raises ``AIRPCError(result["error"])``; that form is accepted too.
    ``code`` is the error's ``data.code`` (e.g. ``insufficient_funds``), ``number`` its
    JSON-RPC code (e.g. 1203, or -32601 for an unknown method).
    """

    def __init__(
        self,
        error: dict[str, Any] | str,
        message: str = "",
        number: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            raw_number = error.get("code")
            number = raw_number if isinstance(raw_number, int) else 0
            message = str(error.get("message", ""))
            code = str((data or {}).get("code") or _standard_code(number))
            super().__init__(code, message, number, data)
        else:
            super().__init__(error, message, number, data)

    @property
    def txid(self) -> str | None:
        """The refused transaction's id, when the node says which."""
        value = self.data.get("txid")
        return value if isinstance(value, str) else None


class AIValidationError(AIError):
    """Refused locally, before sending: the request cannot be right."""

    @classmethod
    def from_ledger(cls, error: LedgerError) -> AIValidationError:
        return cls(error.code, error.reason, error.error_code.number)


_STANDARD = {
    -32700: "parse_error",
    -32600: "invalid_request",
    -32601: "method_not_found",
    -32602: "invalid_params",
    -32603: "internal_error",
}


def _standard_code(number: int) -> str:
    if number in _STANDARD:
        return _STANDARD[number]
    for member in ErrorCode:
        if member.number == number:
            return member.code
    return "rpc_error"
