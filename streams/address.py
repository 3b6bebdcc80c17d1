"""Addresses: bech32m (BIP-350) of a 32-byte Ed25519 public key, human-readable part "hive".

An address is ``bech32m("hive", pubkey)``: "hive1" followed by 52 data characters and a
6-character checksum, 63 characters in all, always lowercase. The checksum catches any
mistyped character (up to 4 substitutions are always detected), so a typo never sends
tokens to a key nobody holds.

``bech32m_decode``/``bech32m_encode`` follow BIP-350 to the letter (including its rule that
an all-uppercase string is valid), so they can be checked against the BIP's own vectors.
``decode_address`` is stricter: a hiveledger address is accepted only in its canonical
lowercase form, so one account never has two spellings (account ids are compared as
strings all over the ledger).
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache

from domain.errors import ErrorCode, LedgerError

HRP = "hive"
PUBKEY_LEN = 32
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3
MAX_LEN = 90
# 32 bytes = 256 bits -> 52 five-bit groups, plus 6 checksum characters.
ADDRESS_LEN = len(HRP) + 1 + 52 + 6
ADDRESS_PATTERN = r"^hive1[02-9ac-hj-np-z]{58}$"

_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _gen_term(b: int) -> int:
    """XOR of the generator terms selected by the 5 bits of ``b``."""
    term = 0
    for i, gen in enumerate(_GEN):
        if (b >> i) & 1:
            term ^= gen
    return term


_TABLE = tuple(_gen_term(b) for b in range(32))
_CHAR_VALUE = {c: i for i, c in enumerate(CHARSET)}


class Bech32Error(ValueError):
    """A string that is not valid bech32/bech32m; the message says why."""


class Encoding(Enum):
    BECH32 = BECH32_CONST
    BECH32M = BECH32M_CONST


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ _TABLE[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: list[int], spec: Encoding) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ spec.value
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32m_encode(hrp: str, data: list[int], spec: Encoding = Encoding.BECH32M) -> str:
    """Encode 5-bit groups ``data`` under ``hrp`` (BIP-350 ``bech32_encode``)."""
    checksum = _create_checksum(hrp, data, spec)
    return hrp + "1" + "".join(CHARSET[d] for d in [*data, *checksum])


def bech32_decode_any(text: str) -> tuple[str, list[int], Encoding]:
    """Decode a bech32 or bech32m string; return (hrp, 5-bit data, encoding).

    Raises Bech32Error with the reason when the string is neither.
    """
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("contains a character outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixes upper and lower case")
    if len(text) > MAX_LEN:
        raise Bech32Error(f"is {len(text)} characters long; at most {MAX_LEN}")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 0:
        raise Bech32Error("has no separator '1'")
    if pos == 0:
        raise Bech32Error("has an empty human-readable part")
    if pos + 7 > len(text):
        raise Bech32Error("is too short to hold a checksum")
    data: list[int] = []
    for i, c in enumerate(text[pos + 1 :], start=pos + 1):
        value = _CHAR_VALUE.get(c)
        if value is None:
            raise Bech32Error(f"has {c!r} at position {i}, which is not a bech32 character")
        data.append(value)
    hrp = text[:pos]
    residue = _polymod(_hrp_expand(hrp) + data)
    if residue == BECH32M_CONST:
        spec = Encoding.BECH32M
    elif residue == BECH32_CONST:
        spec = Encoding.BECH32
    else:
        raise Bech32Error("has a bad checksum (a character is mistyped)")
    return hrp, data[:-6], spec


def bech32m_decode(text: str) -> tuple[str, list[int]]:
    """Decode a bech32m string (BIP-350); a bech32 (BIP-173) checksum is refused."""
    hrp, data, spec = bech32_decode_any(text)
    if spec is not Encoding.BECH32M:
        raise Bech32Error("has a bech32 checksum; addresses use bech32m (BIP-350)")
    return hrp, data


def convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    """Regroup bits (BIP-173 ``convertbits``); refuses non-zero or excess padding."""
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise Bech32Error(f"value {value} does not fit in {frombits} bits")
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits:
        raise Bech32Error("has more than 4 bits of padding")
    elif (acc << (tobits - bits)) & maxv:
        raise Bech32Error("has non-zero padding bits")
    return out


def encode_address(pubkey: bytes) -> str:
    """The address of a 32-byte Ed25519 public key."""
    if len(pubkey) != PUBKEY_LEN:
        raise ValueError(f"an Ed25519 public key is {PUBKEY_LEN} bytes, not {len(pubkey)}")
    return bech32m_encode(HRP, convertbits(pubkey, 8, 5, pad=True))


_DATA_RE = re.compile(r"[02-9ac-hj-np-z]{58}")
_TO_BASE32 = str.maketrans(CHARSET, "0123456789abcdefghijklmnopqrstuv")


_HRP_STATE = 1  # the polymod state after the expanded "hive" prefix, computed once
for _v in _hrp_expand(HRP):
    _HRP_STATE = ((_HRP_STATE & 0x1FFFFFF) << 5) ^ _v ^ _TABLE[_HRP_STATE >> 25]


def _fast_decode(addr: str) -> bytes | None:
    """The key of a well-formed canonical address, else None (the slow path says why)."""
    if len(addr) != ADDRESS_LEN or not addr.startswith("hive1"):
        return None
    data = addr[5:]
    if not _DATA_RE.fullmatch(data):
        return None
    chk = _HRP_STATE
    for c in data:
        chk = ((chk & 0x1FFFFFF) << 5) ^ _CHAR_VALUE[c] ^ _TABLE[chk >> 25]
    if chk != BECH32M_CONST:
        return None
    bits = int(data[:52].translate(_TO_BASE32), 32)  # 260 bits: the key and 4 zero bits
    return None if bits & 0xF else (bits >> 4).to_bytes(PUBKEY_LEN, "big")


@lru_cache(maxsize=1 << 16)
def _decode_cached(addr: str) -> bytes:
    # Only successful decodes are cached (an exception is never cached), so the cache
    # holds at most 65536 real accounts; the sequencer sees the same signers often.
    key = _fast_decode(addr)
    if key is not None:
        return key
    try:
        hrp, data = bech32m_decode(addr)
        if addr != addr.lower():
            raise Bech32Error("is uppercase; hive addresses are written in lowercase")
        if hrp != HRP:
            raise Bech32Error(f"has prefix {hrp!r}; hive addresses start with '{HRP}1'")
        key = bytes(convertbits(data, 5, 8, pad=False))
    except Bech32Error as exc:
        raise LedgerError(ErrorCode.ADDRESS_INVALID, f"{_shorten(addr)} {exc}") from None
    if len(key) != PUBKEY_LEN:
        raise LedgerError(
            ErrorCode.ADDRESS_INVALID,
            f"{_shorten(addr)} holds {len(key)} bytes; an address holds a 32-byte key",
        )
    return key


def decode_address(addr: str) -> bytes:
    """The 32-byte public key inside ``addr``.

    Raises LedgerError(ADDRESS_INVALID) naming what is wrong: mixed or upper case, bad
    checksum, a bech32 (not bech32m) checksum, another prefix, or another length.
    """
    if not isinstance(addr, str):
        raise LedgerError(
            ErrorCode.ADDRESS_INVALID, f"an address is a string, not {type(addr).__name__}"
        )
    return _decode_cached(addr)


def is_address(addr: object) -> bool:
    """True when ``addr`` is a valid, canonical hive address."""
    try:
        decode_address(addr)  # type: ignore[arg-type]
    except LedgerError:
        return False
    return True


def _shorten(addr: str) -> str:
    shown = addr if len(addr) <= 72 else addr[:69] + "..."
    return f"address {shown!r}"
