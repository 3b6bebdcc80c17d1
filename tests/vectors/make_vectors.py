"""Write tests/vectors/keys.json and tests/vectors/envelopes.json.

    .venv/bin/python tests/vectors/make_vectors.py          # rewrite both files
    .venv/bin/python tests/vectors/make_vectors.py --check  # exit 1 if they are stale

Everything here is deterministic (BIP39, SLIP-0010 and Ed25519 signatures are), so the
files are reproducible byte for byte; tests/test_vectors.py recomputes them, and
examples/node/check_vectors.mjs recomputes them in another language.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.errors import ErrorCode, LedgerError  # noqa: E402
from streams.envelope import (  # noqa: E402
    MAX_ENVELOPE_BYTES,
    PAYLOAD_TYPE,
    open_envelope,
    pae,
    seal,
)
from streams.keys import Keypair, derivation_path, mnemonic_to_seed, slip10_derive  # noqa: E402

HERE = Path(__file__).resolve().parent
ABANDON_ART = " ".join(["abandon"] * 23 + ["art"])
LEGAL = "legal winner thank year wave sausage worth useful legal winner thank yellow"
ZOO_VOTE = " ".join(["zoo"] * 23 + ["vote"])
CHAIN_ID = "hive-vectors"
T0 = 1_700_000_000_000


def key_vectors() -> dict[str, Any]:
    rows = []
    for words, passphrase, index in [
        (ABANDON_ART, "", 0),
        (ABANDON_ART, "TREZOR", 0),
        (LEGAL, "", 0),
        (ZOO_VOTE, "", 1),
    ]:
        seed = mnemonic_to_seed(words, passphrase)
        private = slip10_derive(seed, (44, 8545, 0, 0, index))
        kp = Keypair.from_seed32(private)
        rows.append(
            {
                "mnemonic": words,
                "passphrase": passphrase,
                "index": index,
                "path": derivation_path(index),
                "bip39_seed": seed.hex(),
                "private_key": private.hex(),
                "public_key": kp.public_key.hex(),
                "address": kp.address,
            }
        )
    return {
        "about": "BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt 'mnemonic'+passphrase) -> "
        "SLIP-0010 ed25519 key on the path -> Ed25519 public key -> bech32m('hive', key). "
        "private_key is the 32-byte Ed25519 seed (RFC 8032 secret key).",
        "vectors": rows,
    }


def _signer() -> Keypair:
    return Keypair.from_mnemonic(ABANDON_ART)


def _recipient() -> Keypair:
    return Keypair.from_mnemonic(ABANDON_ART, index=1)


def _body(kind: str = "transfer", **fields: Any) -> bytes:
    """Compact JSON body bytes in a fixed, readable order (common fields first)."""
    obj: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "kind": kind,
        "signer": _signer().address,
        "nonce": 1,
        "created_at": T0,
        "to": _recipient().address,
        "amount": 1_500_000_000,
    }
    obj.update(fields)
    obj = {k: v for k, v in obj.items() if v is not _DROP}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


_DROP = object()


def _positive(name: str, body: bytes, note: str) -> dict[str, Any]:
    kp = _signer()
    txid, envelope = seal(body, kp)
    opened = open_envelope(envelope, CHAIN_ID)
    assert opened.txid == txid and opened.body_bytes == body
    env = json.loads(envelope)
    return {
        "name": name,
        "note": note,
        "body": body.decode(),
        "pae_hex": pae(PAYLOAD_TYPE, body).hex(),
        "sig": env["signatures"][0]["sig"],
        "envelope": envelope.decode(),
        "txid": txid,
    }


def _envelope(body: bytes, kp: Keypair | None = None, **edits: Any) -> str:
    """A signed envelope, optionally edited after signing (edits replace top-level keys).

    Built by hand rather than with ``seal``, which refuses bodies over the size limit.
    """
    kp = kp or _signer()
    sig = base64.b64encode(kp.sign(pae(PAYLOAD_TYPE, body))).decode()
    env: dict[str, Any] = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": kp.address, "sig": sig}],
    }
    env.update(edits)
    return json.dumps(env, separators=(",", ":"))


def _flip_payload_byte(body: bytes) -> str:
    env = json.loads(_envelope(body))
    tampered = body.replace(b'"amount":1500000000', b'"amount":9500000000')
    env["payload"] = base64.b64encode(tampered).decode()
    return json.dumps(env, separators=(",", ":"))


def _negative_cases() -> list[tuple[str, str, ErrorCode]]:
    good = _body()
    other = Keypair.from_mnemonic(LEGAL)
    sig = json.loads(_envelope(good))["signatures"][0]
    return [
        ("not JSON", "hello", ErrorCode.ENVELOPE_MALFORMED),
        ("two signatures", _envelope(good, signatures=[sig, sig]), ErrorCode.ENVELOPE_MALFORMED),
        ("payload not base64", _envelope(good, payload="@@@@"), ErrorCode.ENVELOPE_MALFORMED),
        ("base64 without padding", _envelope(good, payload="e30"), ErrorCode.ENVELOPE_MALFORMED),
        ("unknown envelope field", _envelope(good, extra=1), ErrorCode.ENVELOPE_MALFORMED),
        ("other payloadType", _envelope(good, payloadType="application/json"),
         ErrorCode.PAYLOAD_TYPE_UNSUPPORTED),
        ("payload changed after signing", _flip_payload_byte(good), ErrorCode.SIGNATURE_INVALID),
        ("signed by another key", _envelope(good, kp=other, signatures=[
            {"keyid": _signer().address,
             "sig": json.loads(_envelope(good, kp=other))["signatures"][0]["sig"]}]),
         ErrorCode.SIGNATURE_INVALID),
        ("keyid is not an address", _envelope(good, signatures=[{**sig, "keyid": "alice"}]),
         ErrorCode.ADDRESS_INVALID),
        ("body signer is not the keyid", _envelope(_body(signer=other.address)),
         ErrorCode.SIGNER_MISMATCH),
        ("body over 4096 bytes", _envelope(good + b" " * (4097 - len(good))),
         ErrorCode.BODY_TOO_LARGE),
        ("envelope over 16 KiB", _envelope(good) + " " * MAX_ENVELOPE_BYTES,
         ErrorCode.BODY_TOO_LARGE),
        ("body is an array", _envelope(b"[1,2]"), ErrorCode.BODY_MALFORMED),
        ("body repeats a key", _envelope(good[:-1] + b',"amount":1}'), ErrorCode.BODY_MALFORMED),
        ("unknown kind", _envelope(_body(kind="burn")), ErrorCode.KIND_UNKNOWN),
        ("missing amount", _envelope(_body(amount=_DROP)), ErrorCode.FIELD_MISSING),
        ("unknown body field", _envelope(_body(fee=1)), ErrorCode.FIELD_UNKNOWN),
        ("nonce zero", _envelope(_body(nonce=0)), ErrorCode.FIELD_INVALID),
        ("amount as float", _envelope(good.replace(b"1500000000", b"1500000000.0")),
         ErrorCode.AMOUNT_INVALID),
        ("amount over 2^63-1", _envelope(_body(amount=2**63)), ErrorCode.AMOUNT_INVALID),
        ("recipient checksum wrong", _envelope(_body(to=_recipient().address[:-1] + "q")),
         ErrorCode.ADDRESS_INVALID),
        ("other chain", _envelope(_body(chain_id="hive-mainnet")), ErrorCode.CHAIN_ID_WRONG),
    ]  # fmt: skip


def envelope_vectors() -> dict[str, Any]:
    positive = [
        _positive("transfer", _body(memo="coffee ☕ café"),
                  "memo with non-ASCII text: lengths in PAE are byte counts"),
        _positive("transfer, no memo, with expiry", _body(nonce=2, expires_at=T0 + 60_000),
                  "memo omitted (defaults to empty), expires_at set"),
        _positive("mint", _body(kind="mint", amount=10**18, to=_signer().address),
                  "a mint (the sequencer accepts it only from the treasury)"),
        _positive("transfer, pretty-printed",
                  json.dumps({"kind": "transfer", "amount": 7, "to": _recipient().address,
                              "signer": _signer().address, "nonce": 3, "created_at": T0,
                              "chain_id": CHAIN_ID}, indent=2).encode(),
                  "any key order and whitespace: the bytes are signed as they are"),
    ]  # fmt: skip
    negative = []
    for name, envelope, code in _negative_cases():
        try:
            open_envelope(envelope.encode(), CHAIN_ID)
        except LedgerError as exc:
            assert exc.error_code is code, (name, exc)
        else:
            raise AssertionError(f"negative vector {name!r} opened")
        negative.append({"name": name, "envelope": envelope, "error": code.code})
    return {
        "about": "Envelopes signed by account 0 of the signer mnemonic. PAE = 'DSSEv1' SP "
        "len(type) SP type SP len(body) SP body; sig = Ed25519(PAE); txid = hex(SHA-256(PAE)). "
        "Each negative envelope must be refused, with the given error, when opened for "
        "chain_id.",
        "payload_type": PAYLOAD_TYPE,
        "chain_id": CHAIN_ID,
        "signer": {"mnemonic": ABANDON_ART, "index": 0, "address": _signer().address},
        "vectors": positive,
        "negative": negative,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


FILES = {"keys.json": key_vectors, "envelopes.json": envelope_vectors}


def main(argv: list[str]) -> int:
    stale = []
    for name, build in FILES.items():
        text = render(build())
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run tests/vectors/make_vectors.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
