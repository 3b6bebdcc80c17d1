"""Addresses: bech32m per BIP-350 (its own vectors), and hiveledger's stricter rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ErrorCode, LedgerError
from streams.address import (
    ADDRESS_LEN,
    Bech32Error,
    Encoding,
    bech32_decode_any,
    bech32m_decode,
    bech32m_encode,
    convertbits,
    decode_address,
    encode_address,
    is_address,
)

# BIP-350, "Test vectors for Bech32m" (the same lists as sipa/bech32 ref/python/tests.py).
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
INVALID_BECH32M = [
    " 1xj0phk",  # HRP character out of range
    "\x7f1g6xzxy",  # HRP character out of range
    "\x801vctc34",  # HRP character out of range
    # overall max length exceeded
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m",  # no separator character
    "1qyrz8wqd2c9m",  # empty HRP
    "y1b0jsk6g",  # invalid data character
    "lt1igcx5c0",  # invalid data character
    "in1muywd",  # too short checksum
    "mm1crxm3i",  # invalid character in checksum
    "au1s5cgom",  # invalid character in checksum
    "M1VUXWEZ",  # checksum calculated with uppercase form of HRP
    "16plkw9",  # empty HRP
    "1p2gdwpf",  # empty HRP
]
# BIP-173's valid bech32 strings: valid bech32, so refused as bech32m.
VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

KEY = bytes(range(32))


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_bip350_valid_bech32m(text: str) -> None:
    hrp, data = bech32m_decode(text)
    assert bech32m_encode(hrp, data) == text.lower()
    # BIP-350's own check: flipping one bit of the first data character breaks it.
    pos = text.rfind("1")
    broken = text[: pos + 1] + chr(ord(text[pos + 1]) ^ 1) + text[pos + 2 :]
    with pytest.raises(Bech32Error):
        bech32m_decode(broken)


@pytest.mark.parametrize("text", INVALID_BECH32M)
def test_bip350_invalid_bech32m(text: str) -> None:
    with pytest.raises(Bech32Error):
        bech32m_decode(text)


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bech32_checksum_is_not_bech32m(text: str) -> None:
    assert bech32_decode_any(text)[2] is Encoding.BECH32
    with pytest.raises(Bech32Error, match="bech32m"):
        bech32m_decode(text)


def test_address_shape() -> None:
    addr = encode_address(KEY)
    assert addr.startswith("hive1")
    assert len(addr) == ADDRESS_LEN == 63
    assert addr == addr.lower()
    assert decode_address(addr) == KEY
    assert is_address(addr)


def test_known_address() -> None:
    # A regression pin; the Node example recomputes every address in the vectors independently.
    assert encode_address(bytes(32)) == (
        "hive1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq8kc5z9"
    )


def _reason(addr: object) -> str:
    with pytest.raises(LedgerError) as info:
        decode_address(addr)  # type: ignore[arg-type]
    assert info.value.error_code is ErrorCode.ADDRESS_INVALID
    return info.value.reason


def test_mixed_case_refused() -> None:
    addr = encode_address(KEY)
    assert "mixes upper and lower case" in _reason(addr[:10] + addr[10:].upper())


def test_uppercase_refused_although_bech32m_allows_it() -> None:
    addr = encode_address(KEY)
    assert bech32m_decode(addr.upper())[0] == "hive"
    assert "lowercase" in _reason(addr.upper())


def test_bad_checksum_refused() -> None:
    addr = encode_address(KEY)
    typo = addr[:20] + ("q" if addr[20] != "q" else "p") + addr[21:]
    assert "bad checksum" in _reason(typo)


def test_wrong_hrp_refused() -> None:
    other = bech32m_encode("bc", convertbits(KEY, 8, 5, pad=True))
    assert "prefix 'bc'" in _reason(other)


def test_wrong_length_refused() -> None:
    short = bech32m_encode("hive", convertbits(KEY[:20], 8, 5, pad=True))
    assert "20 bytes" in _reason(short)
    long = bech32m_encode("hive", convertbits(KEY + b"\x00", 8, 5, pad=True))
    assert "33 bytes" in _reason(long)


def test_bech32_instead_of_bech32m_refused() -> None:
    old = bech32m_encode("hive", convertbits(KEY, 8, 5, pad=True), Encoding.BECH32)
    assert "bech32 checksum" in _reason(old)


def test_non_zero_padding_refused() -> None:
    data = convertbits(KEY, 8, 5, pad=True)
    data[-1] |= 1  # 256 bits leave 4 padding bits in the last group
    assert "padding" in _reason(bech32m_encode("hive", data))


def test_other_malformations_refused() -> None:
    assert "not a bech32 character" in _reason("hive1" + "b" * 58)
    assert "no separator" in _reason("hiveqqqq")
    assert "characters long" in _reason("hive1" + "q" * 100)
    assert "not int" in _reason(5)
    assert "printable" in _reason("hive1 qqqqqqq")


def test_encode_refuses_wrong_key_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encode_address(b"\x01" * 31)


@given(st.binary(min_size=32, max_size=32))
def test_round_trip(key: bytes) -> None:
    assert decode_address(encode_address(key)) == key


@given(st.binary(min_size=32, max_size=32), st.integers(5, 62), st.sampled_from("qpzry9x8"))
def test_any_single_substitution_is_caught(key: bytes, pos: int, char: str) -> None:
    addr = encode_address(key)
    if addr[pos] == char:
        return
    assert not is_address(addr[:pos] + char + addr[pos + 1 :])
