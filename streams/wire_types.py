"""The building blocks of wire types: field types with their meaning, the common ``Body``,
and ``register``, which adds a kind to ``KINDS``. Kinds live in streams/wire.py and
streams/wire_market.py; the union and the codecs in streams/wire.py."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, ClassVar, Union

from msgspec import Meta, Struct

from streams.address import ADDRESS_PATTERN

MAX_I63 = 2**63 - 1
MEMO_MAX_BYTES = 256
CHAIN_ID_MAX = 64

Address = Annotated[
    str,
    Meta(
        pattern=ADDRESS_PATTERN,
        description="bech32m address: 'hive1' + 58 characters, lowercase",
        extra={"hive": "address"},
    ),
]
Amount = Annotated[
    int,
    Meta(
        ge=1,
        le=MAX_I63,
        description="integer in the smallest unit (1 token = 10^9 units)",
        extra={"hive": "amount"},
    ),
]
Nonce = Annotated[int, Meta(ge=1, le=MAX_I63, description="per-signer, rises by exactly one")]
UnixMillis = Annotated[int, Meta(ge=0, le=MAX_I63, description="unix time in milliseconds")]
ChainId = Annotated[str, Meta(min_length=1, max_length=CHAIN_ID_MAX)]
# max_length counts code points, a cheap first bound; check_body enforces the byte limit.
Memo = Annotated[
    str,
    Meta(
        max_length=MEMO_MAX_BYTES,
        description=f"free text, at most {MEMO_MAX_BYTES} bytes in UTF-8",
        extra={"max_utf8_bytes": MEMO_MAX_BYTES},
    ),
]


class Body(
    Struct,
    frozen=True,
    forbid_unknown_fields=True,
    tag_field="kind",
    kw_only=True,
    omit_defaults=True,
):
    """Fields common to every transaction body. ``kind`` is the union's tag."""

    chain_id: ChainId
    signer: Address
    nonce: Nonce
    created_at: UnixMillis
    expires_at: UnixMillis | None = None

    # Filled in by ``register``: names of Address-typed fields and UTF-8 byte limits.
    address_fields: ClassVar[tuple[str, ...]] = ()
    utf8_limits: ClassVar[tuple[tuple[str, int], ...]] = ()

    @property
    def kind(self) -> str:
        return str(self.__struct_config__.tag)


KINDS: dict[str, type[Body]] = {}
_FIELD_ROLES: dict[str, str] = {}


def _metas(annotation: Any) -> list[Meta]:
    """The msgspec Meta objects of a field type, looking into Optional and containers."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return [a for a in args[1:] if isinstance(a, Meta)] + _metas(args[0])
    if origin in (Union, types.UnionType, list, tuple, frozenset):
        return [m for a in args if a is not Ellipsis for m in _metas(a)]
    return []


def _role(annotation: Any) -> tuple[str, int]:
    """('address'|'amount'|'other', UTF-8 byte limit or 0) from a field's type."""
    role, limit = "other", 0
    for meta in _metas(annotation):
        extra = meta.extra or {}
        role = extra.get("hive", role)
        limit = int(extra.get("max_utf8_bytes", limit))
    return role, limit


def register(cls: type[Body]) -> type[Body]:
    """Add a kind to ``KINDS``. Refuses (TypeError, at import) a taken tag, a field named
    ``amount`` not typed ``Amount``, and a field name whose role (address, amount, other)
    differs from another kind's: error codes are chosen by field name."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str) or tag in KINDS:
        raise TypeError(f"{cls.__name__}: kind tag {tag!r} is missing or taken")
    hints = typing.get_type_hints(cls, include_extras=True)
    roles = {name: _role(hints[name]) for name in cls.__struct_fields__}
    for name, (role, _) in roles.items():
        if name == "amount" and role != "amount":
            raise TypeError(f"{cls.__name__}.amount must be typed Amount")
        if _FIELD_ROLES.get(name, role) != role:
            raise TypeError(
                f"{cls.__name__}.{name}: the field's role is {role!r} here but "
                f"{_FIELD_ROLES[name]!r} in another kind"
            )
    _FIELD_ROLES.update((name, role) for name, (role, _) in roles.items())
    cls.address_fields = tuple(n for n, (role, _) in roles.items() if role == "address")
    cls.utf8_limits = tuple((n, limit) for n, (_, limit) in roles.items() if limit)
    KINDS[tag] = cls
    return cls
