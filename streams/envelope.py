"""The DSSE transaction envelope: sign body bytes once, verify them exactly as received.

    PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body
    sig  = Ed25519(signer key, PAE)            txid = hex(SHA-256(PAE))
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": base64(body),
                "signatures": [{"keyid": signer address, "sig": base64(sig)}]}

``open_envelope`` checks, in this order and refusing at the first fault: sizes, the
envelope's shape, payloadType, the keyid address, the signature over the body bytes as
received, then (only for signed bytes) the body, strictly; then keyid == body.signer and
the chain id. The body bytes are never re-encoded: what is signed is what is decoded.

It is on the sequencer's hot path: one module-level decoder per shape, no copies of the
body beyond the one base64 decode and the PAE, and the signature check goes straight to
libsodium (through PyNaCl's binding, which releases the GIL) without building a VerifyKey.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct
from nacl._sodium import ffi, lib  # PyNaCl's own libsodium binding

from domain.errors import ErrorCode, LedgerError
from streams.address import decode_address
from streams.keys import Keypair
from streams.wire import Body, check_unique_keys, decode_body, encode_body

PAYLOAD_TYPE = "application/vnd.hiveledger.tx+json"
MAX_ENVELOPE_BYTES = 16 * 1024
MAX_BODY_BYTES = 4 * 1024
SIG_BYTES = 64
_MAX_PAYLOAD_B64 = 4 * ((MAX_BODY_BYTES + 2) // 3)
_PAYLOAD_TYPE_B = PAYLOAD_TYPE.encode()
_PAE_HEAD = b"DSSEv1 %d %b " % (len(_PAYLOAD_TYPE_B), _PAYLOAD_TYPE_B)
# Base64 characters whose low 4 (resp. 2) bits are zero: the only canonical last
# characters before "=" (resp. "==").
_CANON_BEFORE_1PAD = frozenset("AEIMQUYcgkosw048")
_CANON_BEFORE_2PAD = frozenset("AQgw")


class Signature(Struct, frozen=True, forbid_unknown_fields=True):
    keyid: str
    sig: str


class Envelope(Struct, frozen=True, forbid_unknown_fields=True):
    payloadType: str  # DSSE spells it so
    payload: str
    signatures: Annotated[list[Signature], Meta(min_length=1, max_length=1)]


class OpenedTx(Struct, frozen=True):
    """A verified transaction: every field is derived from ``envelope`` as received."""

    txid: str
    signer: str
    body: Any  # one of the wire.KINDS Structs (wire.TxBody)
    body_bytes: bytes
    envelope: bytes

    @property
    def kind(self) -> str:
        return str(self.body.kind)


_envelope_decoder = msgspec.json.Decoder(Envelope)
_envelope_encoder = msgspec.json.Encoder()


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding; lengths are decimal byte counts."""
    type_bytes = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(body), body)


def txid_of(body_bytes: bytes) -> str:
    """The transaction id: lowercase hex SHA-256 of PAE(PAYLOAD_TYPE, body)."""
    return hashlib.sha256(pae(PAYLOAD_TYPE, body_bytes)).hexdigest()


def seal(body_bytes: bytes, keypair: Keypair) -> tuple[str, bytes]:
    """Sign body bytes as they are; return (txid, envelope bytes). Does not check the body."""
    if len(body_bytes) > MAX_BODY_BYTES:
        raise LedgerError(
            ErrorCode.BODY_TOO_LARGE, f"body is {len(body_bytes)} bytes; at most {MAX_BODY_BYTES}"
        )
    message = pae(PAYLOAD_TYPE, body_bytes)
    envelope = Envelope(
        payloadType=PAYLOAD_TYPE,
        payload=base64.b64encode(body_bytes).decode("ascii"),
        signatures=[
            Signature(
                keyid=keypair.address,
                sig=base64.b64encode(keypair.sign(message)).decode("ascii"),
            )
        ],
    )
    return hashlib.sha256(message).hexdigest(), _envelope_encoder.encode(envelope)


def sign_tx(body: Body, keypair: Keypair) -> tuple[str, bytes]:
    """Encode ``body`` (refusing it as the sequencer would), sign it, return (txid, envelope).

    The body's signer must be the keypair's address.
    """
    if body.signer != keypair.address:
        raise LedgerError(
            ErrorCode.SIGNER_MISMATCH,
            f"body.signer is {body.signer!r} but the key is {keypair.address!r}",
        )
    return seal(encode_body(body), keypair)


def _malformed(reason: str) -> LedgerError:
    return LedgerError(ErrorCode.ENVELOPE_MALFORMED, reason)


def _b64(text: str, what: str) -> bytes:
    """Strict standard base64 with padding; non-canonical trailing bits are refused."""
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"`{what}` is not standard base64 with padding: {exc}") from None
    if text.endswith("==") and text[-3] not in _CANON_BEFORE_2PAD:
        raise _malformed(f"`{what}` is not canonical base64 (non-zero padding bits)")
    if text.endswith("=") and text[-2] != "=" and text[-2] not in _CANON_BEFORE_1PAD:
        raise _malformed(f"`{what}` is not canonical base64 (non-zero padding bits)")
    return raw


def _parse(raw: bytes) -> tuple[Envelope, bytes, bytes]:
    """The envelope, the body bytes and the signature bytes, or ENVELOPE_MALFORMED."""
    try:
        env: Envelope = _envelope_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _malformed(f"not a DSSE envelope: {str(exc).replace('`', '')}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _malformed(f"envelope is not valid JSON: {exc}") from None
    if b"\\" in raw:
        _check_unique_keys_slow(raw)
    elif raw.count(b'"') != 18:
        # With no escapes, quotes only delimit strings: 5 keys and 4 string values make
        # 18 quote characters, and any more means a repeated key.
        raise _malformed("envelope repeats a key")
    # Length first, so an oversized payload is never decoded.
    size = len(env.payload) // 4 * 3 - env.payload[-2:].count("=")
    if len(env.payload) > _MAX_PAYLOAD_B64 or size > MAX_BODY_BYTES:
        raise LedgerError(
            ErrorCode.BODY_TOO_LARGE, f"body is {size} bytes; at most {MAX_BODY_BYTES}"
        )
    return env, _b64(env.payload, "payload"), _b64(env.signatures[0].sig, "sig")


def open_envelope(raw: bytes, chain_id: str) -> OpenedTx:
    """Verify and decode one intake message; LedgerError with a stable code on any fault."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise LedgerError(
            ErrorCode.BODY_TOO_LARGE, f"envelope is {len(raw)} bytes; at most {MAX_ENVELOPE_BYTES}"
        )
    raw = bytes(raw)  # no copy when it is bytes already
    env, body_bytes, sig = _parse(raw)
    if env.payloadType != PAYLOAD_TYPE:
        raise LedgerError(
            ErrorCode.PAYLOAD_TYPE_UNSUPPORTED,
            f"payloadType is {env.payloadType[:80]!r}; expected {PAYLOAD_TYPE!r}",
        )
    keyid = env.signatures[0].keyid
    try:
        public_key = decode_address(keyid)
    except LedgerError as exc:
        raise LedgerError(ErrorCode.ADDRESS_INVALID, f"keyid: {exc.reason}") from None
    if len(sig) != SIG_BYTES:
        raise LedgerError(
            ErrorCode.SIGNATURE_INVALID,
            f"signature is {len(sig)} bytes; an Ed25519 signature is {SIG_BYTES}",
        )
    signed = b"%b%b%d %b" % (sig, _PAE_HEAD, len(body_bytes), body_bytes)
    # crypto_sign_open with NULL outputs is libsodium's strict detached verify.
    if lib.crypto_sign_open(ffi.NULL, ffi.NULL, signed, len(signed), public_key) != 0:
        raise LedgerError(
            ErrorCode.SIGNATURE_INVALID, f"signature does not verify for keyid {keyid}"
        )
    body = decode_body(body_bytes)
    if body.signer != keyid:
        raise LedgerError(
            ErrorCode.SIGNER_MISMATCH,
            f"envelope keyid is {keyid} but body.signer is {body.signer}",
        )
    if body.chain_id != chain_id:
        raise LedgerError(
            ErrorCode.CHAIN_ID_WRONG,
            f"transaction is for chain {body.chain_id!r}; this is {chain_id!r}",
        )
    txid = hashlib.sha256(memoryview(signed)[SIG_BYTES:]).hexdigest()
    return OpenedTx(txid, keyid, body, body_bytes, raw)


def _check_unique_keys_slow(raw: bytes) -> None:
    """Envelopes written with JSON escapes (e.g. PHP's "\\/") take the exact check."""
    try:
        check_unique_keys(raw)
    except LedgerError as exc:
        raise _malformed(f"envelope: {exc.reason}") from None
