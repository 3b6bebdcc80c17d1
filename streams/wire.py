"""Wire types of transaction bodies: strict msgspec Structs, a tagged union on "kind".

A body is a JSON object. Every kind shares the fields of ``Body``; each kind adds its own.
Decoding is strict: integers must be JSON integers (never 1.0, "1" or true), unknown
fields are refused, and constraints (ranges, lengths, address pattern) are checked by
msgspec while decoding. Two things msgspec cannot express are checked after decoding by
``check_body``: the address checksum (bech32m) and limits in UTF-8 bytes.

Adding a kind takes a few lines::

    @register
    class Stake(Body, tag="stake"):
        amount: Amount

Kinds live in this module, above the union built from ``KINDS``. Field types carry their
meaning: a field typed ``Address`` gets its checksum checked and its errors reported as
ADDRESS_INVALID, a field typed ``Amount`` reports AMOUNT_INVALID (and a field named
``amount`` must be one). ``register`` refuses a kind that breaks these rules, at import.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Annotated, Any, Union

import msgspec

from domain.errors import ErrorCode, LedgerError
from streams.address import decode_address
from streams.wire_types import (  # noqa: F401 - re-exported: the wire vocabulary
    _FIELD_ROLES,
    CHAIN_ID_MAX,
    KINDS,
    MAX_I63,
    MEMO_MAX_BYTES,
    Address,
    Amount,
    Body,
    ChainId,
    Memo,
    Nonce,
    UnixMillis,
    register,
)

# ---- kinds ---------------------------------------------------------------------------


@register
class Transfer(Body, tag="transfer"):
    """Move ``amount`` units from the signer to ``to``."""

    to: Address
    amount: Amount
    memo: Memo = ""


@register
class Mint(Body, tag="mint"):
    """Create ``amount`` new units for ``to``; only the treasury may sign it."""

    to: Address
    amount: Amount
    memo: Memo = ""


from streams import wire_market  # noqa: E402,F401 - registers the marketplace kinds

# ---- the union and its codecs (built from KINDS; keep below the kinds) ----------------

TxBody = Union[tuple(KINDS.values())]  # type: ignore[valid-type]  # noqa: UP007
ADDRESS_FIELD_NAMES = frozenset(n for n, r in _FIELD_ROLES.items() if r == "address")
AMOUNT_FIELD_NAMES = frozenset(n for n, r in _FIELD_ROLES.items() if r == "amount")

body_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(TxBody)
_encoder = msgspec.json.Encoder()
_generic = msgspec.json.Decoder()


def check_body(body: Body) -> None:
    """Checks msgspec cannot express: address checksums and UTF-8 byte limits."""
    for name in body.address_fields:
        value = getattr(body, name)
        for item in value if isinstance(value, (list, tuple, frozenset)) else (value,):
            if item is None:
                continue
            try:
                decode_address(item)
            except LedgerError as exc:
                raise LedgerError(
                    ErrorCode.ADDRESS_INVALID, f"field `{name}`: {exc.reason}"
                ) from None
    for name, spec in _utf8_checks(type(body)):
        _check_utf8(name, getattr(body, name), spec)
    if body.expires_at is not None and body.expires_at <= body.created_at:
        raise LedgerError(
            ErrorCode.FIELD_INVALID,
            f"field `expires_at`: {body.expires_at} is not after created_at {body.created_at}",
        )


# ---- UTF-8 byte limits, also inside lists and dicts ------------------------------------
# A spec is ("str", limit) | ("seq", spec) | ("dict", key spec | None, value spec | None).
Utf8Spec = tuple[Any, ...]
_UTF8_CHECKS: dict[type, tuple[tuple[str, Utf8Spec], ...]] = {}


def _utf8_spec(annotation: Any) -> Utf8Spec | None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        for meta in args[1:]:
            if isinstance(meta, msgspec.Meta) and meta.extra and "max_utf8_bytes" in meta.extra:
                return ("str", int(meta.extra["max_utf8_bytes"]))
        return _utf8_spec(args[0])
    if origin in (Union, types.UnionType):
        return next((s for a in args if (s := _utf8_spec(a)) is not None), None)
    if origin in (list, tuple, set, frozenset) and args:
        inner = _utf8_spec(args[0])
        return ("seq", inner) if inner else None
    if origin is dict:
        key, value = _utf8_spec(args[0]), _utf8_spec(args[1])
        return ("dict", key, value) if key or value else None
    return None


def _utf8_checks(cls: type) -> tuple[tuple[str, Utf8Spec], ...]:
    """(field, spec) for every field of ``cls`` that holds byte-limited text (cached)."""
    checks = _UTF8_CHECKS.get(cls)
    if checks is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = ((name, _utf8_spec(hints[name])) for name in cls.__struct_fields__)
        checks = _UTF8_CHECKS[cls] = tuple((n, s) for n, s in found if s is not None)
    return checks


def _check_utf8(name: str, value: Any, spec: Utf8Spec) -> None:
    if spec[0] == "str":
        # Cheap first: a code point is at most 4 bytes, so short strings need no encoding.
        if isinstance(value, str) and len(value) * 4 > spec[1]:
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > spec[1]:
                raise LedgerError(
                    ErrorCode.FIELD_INVALID,
                    f"field `{name}`: {size} bytes in UTF-8; at most {spec[1]}",
                )
    elif spec[0] == "seq":
        for item in value or ():
            _check_utf8(name, item, spec[1])
    elif spec[0] == "dict":
        for key, item in (value or {}).items():
            if spec[1]:
                _check_utf8(name, key, spec[1])
            if spec[2]:
                _check_utf8(name, item, spec[2])


def encode_body(body: Body) -> bytes:
    """Compact JSON bytes of ``body``, refused (LedgerError) if the sequencer would refuse it.

    Structs built in Python skip msgspec's constraint checks, so the bytes are run
    through the same strict decoder the sequencer uses: an invalid body gets here the
    same error code it would get there.
    """
    if not isinstance(body, Body) or type(body) not in KINDS.values():
        raise TypeError(f"not a registered transaction body: {type(body).__name__}")
    data = _encoder.encode(body)
    decode_body(data)
    return data


def decode_body(data: bytes) -> Body:
    """Strictly decode and check body bytes; LedgerError with the right code on any fault."""
    try:
        body: Body = body_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise decode_error(exc, data) from None
    if _encoder.encode(body) != data:  # the canonical bytes (as the SDK signs) repeat no key
        check_unique_keys(data)
    check_body(body)
    return body


# ---- duplicate keys --------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _count_strings(obj: dict[str, Any] | list[Any]) -> int:
    """Keys plus string values, all levels: the string tokens a parser kept."""
    count = 0
    if type(obj) is dict:
        count = len(obj)
        values: Any = obj.values()
    else:
        values = obj
    for value in values:
        kind = type(value)
        if kind is str:
            count += 1
        elif kind is dict or kind is list:
            count += _count_strings(value)
    return count


def check_unique_keys(data: bytes) -> None:
    """Refuse a JSON text (already known valid) whose objects repeat a key.

    Parsers disagree on ``{"amount": 1, "amount": 1000}`` (first wins, last wins, error),
    so a signer's tool could show one amount while the ledger takes another (RFC 8259
    4; RFC 7493 forbids duplicates). Fast path: with no backslash in the text every
    string token is delimited by exactly two quote characters, so the text's quote
    count equals twice the keys and string values a parser kept unless a key repeats.
    Texts with escapes take the slow, exact path.
    """
    if b"\\" not in data and data.count(b'"') == 2 * _count_strings(_generic.decode(data)):
        return
    try:
        json.loads(data, object_pairs_hook=_pairs_hook)
    except _DuplicateKey as dup:
        raise LedgerError(
            ErrorCode.BODY_MALFORMED, f"key `{dup.args[0]}` appears twice in one object"
        ) from None


# ---- msgspec errors to stable codes ----------------------------------------------------

_AT_RE = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD_RE = re.compile(r"\.([^.\[]+)")
_TICKED_RE = re.compile(r"`([^`]*)`")


def _human(msg: str) -> str:
    """'Expected `int` <= 5' -> 'expected int <= 5'."""
    text = msg.replace("`", "")
    return text[:1].lower() + text[1:]


def _known_kinds() -> str:
    return ", ".join(sorted(KINDS))


def decode_error(exc: Exception, data: bytes) -> LedgerError:
    """Map a msgspec decoding error to a LedgerError with a stable code and a clear reason."""
    if isinstance(exc, UnicodeDecodeError):
        return LedgerError(ErrorCode.BODY_MALFORMED, "body is not valid UTF-8")
    if not isinstance(exc, msgspec.ValidationError):
        return LedgerError(ErrorCode.BODY_MALFORMED, f"body is not valid JSON: {exc}")
    match = _AT_RE.match(str(exc))
    assert match is not None
    msg, path = match["msg"], match["path"] or ""
    field_match = _FIELD_RE.match(path)
    field = field_match.group(1) if field_match else ""
    named = _TICKED_RE.search(msg)
    where = f" in `{path[1:]}`" if path else ""
    if msg.startswith("Object missing required field `kind`") and not path:
        return LedgerError(
            ErrorCode.KIND_UNKNOWN, f"missing field `kind`; known kinds: {_known_kinds()}"
        )
    if path == ".kind":
        got = msg.removeprefix("Invalid value ") if msg.startswith("Invalid value") else None
        if got and got.strip("'\"") in KINDS:  # a second, different "kind" key
            return LedgerError(ErrorCode.BODY_MALFORMED, "key `kind` appears twice in one object")
        what = f"unknown kind {got}" if got else "field `kind` must be a string"
        return LedgerError(ErrorCode.KIND_UNKNOWN, f"{what}; known kinds: {_known_kinds()}")
    if msg.startswith("Object missing required field") and named:
        return LedgerError(
            ErrorCode.FIELD_MISSING, f"missing required field `{named.group(1)}`{where}"
        )
    if msg.startswith("Object contains unknown field") and named:
        return LedgerError(ErrorCode.FIELD_UNKNOWN, f"unknown field `{named.group(1)}`{where}")
    if not path:
        return LedgerError(ErrorCode.BODY_MALFORMED, f"body must be a JSON object: {_human(msg)}")
    reason = f"field `{path[1:]}`: {_human(msg)}"
    if field in AMOUNT_FIELD_NAMES:
        return LedgerError(ErrorCode.AMOUNT_INVALID, reason)
    if field in ADDRESS_FIELD_NAMES:
        return LedgerError(ErrorCode.ADDRESS_INVALID, _address_reason(data, path) or reason)
    return LedgerError(ErrorCode.FIELD_INVALID, reason)


def _address_reason(data: bytes, path: str) -> str | None:
    """Why the address at ``path`` is wrong, in decode_address's words (error path only)."""
    try:
        value: Any = _generic.decode(data)
        for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
            value = value[part[0]] if part[0] else value[int(part[1])]
        decode_address(value)
    except LedgerError as exc:
        return f"field `{path[1:]}`: {exc.reason}"
    except (msgspec.DecodeError, LookupError, TypeError):
        return None
    return None


for _kind in KINDS.values():
    _utf8_checks(_kind)  # fill the cache at import, before threads share it
