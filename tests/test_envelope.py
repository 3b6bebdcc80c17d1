"""DSSE envelopes and strict body decoding: every refusal code, and property tests."""

from __future__ import annotations

import base64
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import ErrorCode, LedgerError
from streams.envelope import (
    MAX_BODY_BYTES,
    MAX_ENVELOPE_BYTES,
    PAYLOAD_TYPE,
    OpenedTx,
    open_envelope,
    pae,
    seal,
    sign_tx,
    txid_of,
)
from streams.keys import Keypair
from streams.wire import Mint, Transfer, decode_body, encode_body

ABANDON_ART = " ".join(["abandon"] * 23 + ["art"])
SIGNER = Keypair.from_mnemonic(ABANDON_ART)
OTHER = Keypair.from_mnemonic(ABANDON_ART, index=1)
CHAIN = "hive-test"
MAX = 2**63 - 1


def body(**fields: Any) -> bytes:
    obj: dict[str, Any] = {
        "chain_id": CHAIN, "kind": "transfer", "signer": SIGNER.address, "nonce": 1,
        "created_at": 1_700_000_000_000, "to": OTHER.address, "amount": 5,
    }  # fmt: skip
    obj.update(fields)
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


def envelope(data: bytes, keypair: Keypair = SIGNER, **edits: Any) -> bytes:
    sig = base64.b64encode(keypair.sign(pae(PAYLOAD_TYPE, data))).decode()
    env: dict[str, Any] = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(data).decode(),
        "signatures": [{"keyid": keypair.address, "sig": sig}],
    }
    env.update(edits)
    return json.dumps(env).encode()


def refused(raw: bytes, code: ErrorCode, chain: str = CHAIN) -> str:
    with pytest.raises(LedgerError) as info:
        open_envelope(raw, chain)
    assert info.value.error_code is code, info.value
    return info.value.reason


# ---- the happy path -------------------------------------------------------------------


def test_seal_and_open() -> None:
    data = body(memo="thanks")
    txid, raw = seal(data, SIGNER)
    opened = open_envelope(raw, CHAIN)
    assert isinstance(opened, OpenedTx)
    assert opened.txid == txid == hashlib.sha256(pae(PAYLOAD_TYPE, data)).hexdigest()
    assert opened.txid == txid_of(data)
    assert opened.signer == SIGNER.address
    assert opened.body_bytes == data
    assert opened.envelope == raw
    assert opened.kind == "transfer"
    assert opened.body == Transfer(
        chain_id=CHAIN, signer=SIGNER.address, nonce=1, created_at=1_700_000_000_000,
        to=OTHER.address, amount=5, memo="thanks",
    )  # fmt: skip


def test_envelope_shape() -> None:
    _, raw = seal(body(), SIGNER)
    env = json.loads(raw)
    assert list(env) == ["payloadType", "payload", "signatures"]
    assert env["payloadType"] == "application/vnd.hiveledger.tx+json"
    assert env["signatures"][0]["keyid"] == SIGNER.address
    assert len(base64.b64decode(env["signatures"][0]["sig"], validate=True)) == 64


def test_pae_uses_byte_lengths() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae(PAYLOAD_TYPE, b"") == b"DSSEv1 34 application/vnd.hiveledger.tx+json 0 "


def test_sign_tx_and_mint() -> None:
    mint = Mint(chain_id=CHAIN, signer=SIGNER.address, nonce=7, created_at=0,
                to=OTHER.address, amount=MAX)  # fmt: skip
    txid, raw = sign_tx(mint, SIGNER)
    opened = open_envelope(raw, CHAIN)
    assert opened.txid == txid and opened.body == mint and opened.kind == "mint"
    assert b"memo" not in opened.body_bytes and b"expires_at" not in opened.body_bytes


def test_sign_tx_refuses_what_the_sequencer_would() -> None:
    bad = Transfer(chain_id=CHAIN, signer=SIGNER.address, nonce=1, created_at=0,
                   to=OTHER.address, amount=0)  # fmt: skip
    with pytest.raises(LedgerError) as info:
        sign_tx(bad, SIGNER)
    assert info.value.error_code is ErrorCode.AMOUNT_INVALID
    with pytest.raises(LedgerError) as info:
        sign_tx(Transfer(chain_id=CHAIN, signer=SIGNER.address, nonce=1, created_at=0,
                         to=OTHER.address, amount=1), OTHER)  # fmt: skip
    assert info.value.error_code is ErrorCode.SIGNER_MISMATCH


def test_memoryview_input() -> None:
    _, raw = seal(body(), SIGNER)
    assert open_envelope(memoryview(raw), CHAIN).envelope == raw


def test_escaped_envelope_is_accepted() -> None:
    _, raw = seal(body(), SIGNER)
    escaped = raw.replace(b"application/vnd", b"application\\/vnd")  # as PHP writes it
    assert open_envelope(escaped, CHAIN).txid == open_envelope(raw, CHAIN).txid


# ---- one test per refusal code --------------------------------------------------------


def test_body_too_large() -> None:
    big = body(memo="x" * 200)
    big += b" " * (MAX_BODY_BYTES + 1 - len(big))
    assert "4097 bytes" in refused(envelope(big), ErrorCode.BODY_TOO_LARGE)
    _, raw = seal(body(), SIGNER)
    padded = raw + b" " * (MAX_ENVELOPE_BYTES + 1 - len(raw))
    assert "16385 bytes" in refused(padded, ErrorCode.BODY_TOO_LARGE)
    with pytest.raises(LedgerError) as info:
        seal(big, SIGNER)
    assert info.value.error_code is ErrorCode.BODY_TOO_LARGE


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b"\xff\xfe",
        envelope(body(), signatures=[]),
        envelope(body(), extra=True),
        envelope(body(), payload=None),
        envelope(body(), payload="not base64!"),
        envelope(body(), payload="e30"),  # missing padding
        envelope(b"A", payload="QR=="),  # non-zero padding bits ("QQ==" is canonical)
        envelope(body(), payload=base64.b64encode(body()).decode() + "\n"),
    ],
)
def test_envelope_malformed(raw: bytes) -> None:
    refused(raw, ErrorCode.ENVELOPE_MALFORMED)


def test_two_signatures_refused() -> None:
    sig = json.loads(envelope(body()))["signatures"][0]
    assert "length" in refused(envelope(body(), signatures=[sig, sig]),
                               ErrorCode.ENVELOPE_MALFORMED)  # fmt: skip


def test_envelope_duplicate_key_refused() -> None:
    raw = envelope(body())
    dup = raw[:-1] + b', "payload": "e30="}'
    assert "repeats" in refused(dup, ErrorCode.ENVELOPE_MALFORMED)
    escaped = dup.replace(b"application/vnd", b"application\\/vnd")
    assert "twice" in refused(escaped, ErrorCode.ENVELOPE_MALFORMED)


def test_payload_type_unsupported() -> None:
    raw = envelope(body(), payloadType="application/json")
    assert "application/json" in refused(raw, ErrorCode.PAYLOAD_TYPE_UNSUPPORTED)


def test_keyid_address_invalid() -> None:
    sig = json.loads(envelope(body()))["signatures"][0]
    reason = refused(envelope(body(), signatures=[{**sig, "keyid": SIGNER.address.upper()}]),
                     ErrorCode.ADDRESS_INVALID)  # fmt: skip
    assert reason.startswith("keyid:")


def test_signature_invalid() -> None:
    data = body()
    good = json.loads(envelope(data))["signatures"][0]
    forged = {**good, "sig": json.loads(envelope(data, OTHER))["signatures"][0]["sig"]}
    refused(envelope(data, signatures=[forged]), ErrorCode.SIGNATURE_INVALID)
    short = {**good, "sig": base64.b64encode(b"\x01" * 63).decode()}
    assert "63 bytes" in refused(envelope(data, signatures=[short]), ErrorCode.SIGNATURE_INVALID)


def test_signature_checked_before_body() -> None:
    # Garbage signed by nobody is a signature failure, never a body error.
    raw = envelope(b"[1]", signatures=[{"keyid": SIGNER.address, "sig": "A" * 86 + "=="}])
    refused(raw, ErrorCode.SIGNATURE_INVALID)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"42", "JSON object"),
        (body(memo="X").replace(b"X", b"\xff"), "UTF-8"),
        (body()[:-1] + b', "amount": 5000}', "`amount` appears twice"),
        (body()[:-1] + b', "kind": "mint"}', "`kind` appears twice"),
        (body()[:-1] + b', "amount": 5000, "memo": "\\u00e9"}', "`amount` appears twice"),
        (body() + b" x", "not valid JSON"),
    ],
)
def test_body_malformed(data: bytes, words: str) -> None:
    assert words in refused(envelope(data), ErrorCode.BODY_MALFORMED)


def test_canonical_bodies_skip_the_duplicate_key_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes equal to their own canonical encoding cannot repeat a key, so they skip the
    exact scan; any other spelling of the same body (here an explicit default) takes it."""
    import streams.wire as wire
    from streams.wire_market import MinerRegister

    scanned: list[bytes] = []
    monkeypatch.setattr(wire, "check_unique_keys", scanned.append)
    common = {"chain_id": CHAIN, "signer": SIGNER.address, "nonce": 1, "created_at": 1}
    miner = MinerRegister(
        **common, miner_id="m-1", skills=["ocr", "échelle"], contact={"web": "https://m.example"}
    )
    for item in (Transfer(**common, to=OTHER.address, amount=5, memo="é"), miner):
        assert decode_body(encode_body(item)) == item
    assert scanned == []
    spelled = json.dumps({**json.loads(encode_body(miner)), "contact": {}}).encode()
    decode_body(spelled)
    assert scanned == [spelled]


def test_a_key_repeated_with_its_own_value_is_refused() -> None:
    """A body that repeats any of its keys, even with its own value, is refused: such
    bytes are never their own canonical encoding, so they always take the exact scan."""
    canonical = body()
    for key, value in json.loads(canonical).items():
        pair = json.dumps({key: value}, separators=(",", ":"))[1:-1].encode()
        words = f"`{key}` appears twice"
        assert words in refused(
            envelope(canonical[:-1] + b"," + pair + b"}"), ErrorCode.BODY_MALFORMED
        )


@pytest.mark.parametrize("kind", ["burn", 5, None, ""])
def test_kind_unknown(kind: object) -> None:
    data = body(kind=kind) if kind is not None else body(kind=None)
    assert "known kinds: fraud_confirm, fraud_report, " in refused(
        envelope(data), ErrorCode.KIND_UNKNOWN
    )


def test_field_missing() -> None:
    data = json.dumps({k: v for k, v in json.loads(body()).items() if k != "nonce"}).encode()
    assert "`nonce`" in refused(envelope(data), ErrorCode.FIELD_MISSING)


def test_field_unknown() -> None:
    assert "`fee`" in refused(envelope(body(fee=1)), ErrorCode.FIELD_UNKNOWN)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"nonce": 0}, "field `nonce`: expected int >= 1"),
        ({"nonce": 1.5}, "field `nonce`: expected int, got float"),
        ({"nonce": MAX + 1}, "field `nonce`: expected int <= 9223372036854775807"),
        ({"created_at": -1}, "field `created_at`"),
        ({"expires_at": "soon"}, "field `expires_at`"),
        ({"expires_at": 1_700_000_000_000}, "not after created_at"),
        ({"chain_id": ""}, "field `chain_id`"),
        ({"chain_id": "c" * 65}, "field `chain_id`"),
        ({"memo": 5}, "field `memo`: expected str, got int"),
        ({"memo": "é" * 129}, "258 bytes in UTF-8; at most 256"),
        ({"memo": "x" * 257}, "field `memo`"),
    ],
)
def test_field_invalid(fields: dict[str, Any], words: str) -> None:
    assert words in refused(envelope(body(**fields)), ErrorCode.FIELD_INVALID)


def test_memo_limit_is_in_bytes() -> None:
    assert open_envelope(envelope(body(memo="é" * 128)), CHAIN).body.memo == "é" * 128
    assert open_envelope(envelope(body(memo="x" * 256)), CHAIN).body.memo == "x" * 256


@pytest.mark.parametrize(
    ("literal", "words"),
    [
        (b"1.0", "expected int, got float"),
        (b"1e3", "expected int, got float"),
        (b"true", "expected int, got bool"),
        (b"-1", "expected int >= 1"),
        (b"0", "expected int >= 1"),
        (b'"5"', "expected int, got str"),
        (b"null", "expected int, got null"),
        (b"9223372036854775808", "field `amount`: expected int <= 9223372036854775807"),
        (b"99999999999999999999999999", "expected int <= 9223372036854775807"),
    ],
)
def test_amount_invalid(literal: bytes, words: str) -> None:
    data = body().replace(b'"amount": 5', b'"amount": ' + literal)
    assert words in refused(envelope(data), ErrorCode.AMOUNT_INVALID)


def test_amount_bounds_accepted() -> None:
    for amount in (1, MAX):
        assert open_envelope(envelope(body(amount=amount)), CHAIN).body.amount == amount


@pytest.mark.parametrize(
    ("to", "words"),
    [
        ("alice", "field `to`"),
        (5, "field `to`"),
        (OTHER.address[:-1] + ("q" if OTHER.address[-1] != "q" else "p"), "bad checksum"),
        (OTHER.address.upper(), "lowercase"),
    ],
)
def test_address_invalid(to: object, words: str) -> None:
    assert words in refused(envelope(body(to=to)), ErrorCode.ADDRESS_INVALID)


def test_signer_field_address_invalid() -> None:
    assert "field `signer`" in refused(envelope(body(signer="hive1x")), ErrorCode.ADDRESS_INVALID)


def test_signer_mismatch() -> None:
    reason = refused(envelope(body(signer=OTHER.address)), ErrorCode.SIGNER_MISMATCH)
    assert OTHER.address in reason and SIGNER.address in reason


def test_chain_id_wrong() -> None:
    assert "'hive-test'" in refused(envelope(body()), ErrorCode.CHAIN_ID_WRONG, "hive-main")


# ---- property tests -------------------------------------------------------------------

addresses = st.sampled_from([SIGNER.address, OTHER.address])
i63 = st.integers(1, MAX)
memos = st.text(max_size=64)


@st.composite
def bodies(draw: st.DrawFn) -> Transfer | Mint:
    cls = draw(st.sampled_from([Mint, Transfer]))  # the money kinds: same fields
    created = draw(st.integers(0, MAX - 1))
    expires = draw(st.none() | st.integers(created + 1, MAX))
    return cls(  # type: ignore[no-any-return]
        chain_id=draw(st.text(min_size=1, max_size=64)), signer=SIGNER.address,
        nonce=draw(i63), created_at=created, expires_at=expires,
        to=draw(addresses), amount=draw(i63), memo=draw(memos),
    )  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(bodies())
def test_round_trip(tx: Transfer | Mint) -> None:
    txid, raw = sign_tx(tx, SIGNER)
    opened = open_envelope(raw, tx.chain_id)
    assert opened.body == tx
    assert opened.txid == txid == txid_of(opened.body_bytes)
    assert decode_body(encode_body(tx)) == tx


@settings(max_examples=60, deadline=None)
@given(bodies(), st.randoms(use_true_random=False))
def test_any_key_order_and_spacing_is_signed_as_is(tx: Transfer | Mint, rnd: Any) -> None:
    obj = json.loads(encode_body(tx))
    items = list(obj.items())
    rnd.shuffle(items)
    data = json.dumps(dict(items), indent=rnd.choice([None, 1, 4]),
                      ensure_ascii=rnd.choice([True, False])).encode()  # fmt: skip
    opened = open_envelope(seal(data, SIGNER)[1], tx.chain_id)
    assert opened.body == tx and opened.body_bytes == data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.data())
def test_any_single_byte_change_of_payload_or_signature_is_refused(
    tx: Transfer | Mint, data: st.DataObject
) -> None:
    _, raw = sign_tx(tx, SIGNER)
    env = json.loads(raw)
    payload = bytearray(base64.b64decode(env["payload"]))
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    target = data.draw(st.sampled_from(["payload", "sig"]))
    buf = payload if target == "payload" else sig
    pos = data.draw(st.integers(0, len(buf) - 1))
    buf[pos] ^= data.draw(st.integers(1, 255))
    env["payload"] = base64.b64encode(payload).decode()
    env["signatures"][0]["sig"] = base64.b64encode(sig).decode()
    with pytest.raises(LedgerError) as info:
        open_envelope(json.dumps(env).encode(), tx.chain_id)
    assert info.value.error_code is ErrorCode.SIGNATURE_INVALID


@settings(max_examples=200, deadline=None)
@given(bodies(), st.data())
def test_any_single_byte_change_of_the_envelope_is_refused(
    tx: Transfer | Mint, data: st.DataObject
) -> None:
    _, raw = sign_tx(tx, SIGNER)
    pos = data.draw(st.integers(0, len(raw) - 1))
    changed = bytearray(raw)
    changed[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(LedgerError):
        open_envelope(bytes(changed), tx.chain_id)


def test_open_envelope_on_two_threads() -> None:
    """The sequencer opens envelopes on two threads at once: results must not mix."""
    sealed = [seal(body(nonce=n, amount=n), SIGNER) for n in range(1, 401)]
    with ThreadPoolExecutor(2) as pool:
        opened = list(pool.map(lambda item: open_envelope(item[1], CHAIN), sealed))
    assert [o.txid for o in opened] == [txid for txid, _ in sealed]
    assert [o.body.amount for o in opened] == list(range(1, 401))
