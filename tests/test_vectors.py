"""The published test vectors: recomputed here, so they never drift from the code."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ErrorCode, LedgerError
from streams.envelope import open_envelope, pae
from streams.keys import Keypair, mnemonic_to_seed

VECTORS = Path(__file__).parent / "vectors"
sys.path.insert(0, str(VECTORS))
import make_vectors  # noqa: E402


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", sorted(make_vectors.FILES))
def test_files_match_the_generator(name: str) -> None:
    text = make_vectors.render(make_vectors.FILES[name]())
    assert (VECTORS / name).read_text(encoding="utf-8") == text, (
        f"{name} is stale: run .venv/bin/python tests/vectors/make_vectors.py"
    )


def test_key_vectors() -> None:
    rows = _load("keys.json")["vectors"]
    assert len({r["mnemonic"] for r in rows}) >= 3
    assert any(r["mnemonic"].endswith(" art") and r["mnemonic"].count("abandon") == 23
               for r in rows)  # fmt: skip
    for row in rows:
        assert mnemonic_to_seed(row["mnemonic"], row["passphrase"]).hex() == row["bip39_seed"]
        kp = Keypair.from_mnemonic(row["mnemonic"], row["passphrase"], row["index"])
        assert kp.public_key.hex() == row["public_key"]
        assert kp.address == row["address"]
        assert Keypair.from_seed32(bytes.fromhex(row["private_key"])).address == row["address"]


def test_envelope_vectors() -> None:
    data = _load("envelopes.json")
    signer = Keypair.from_mnemonic(data["signer"]["mnemonic"], index=data["signer"]["index"])
    assert signer.address == data["signer"]["address"]
    for vector in data["vectors"]:
        body = vector["body"].encode()
        message = pae(data["payload_type"], body)
        assert message.hex() == vector["pae_hex"]
        assert base64.b64encode(signer.sign(message)).decode() == vector["sig"]
        assert hashlib.sha256(message).hexdigest() == vector["txid"]
        opened = open_envelope(vector["envelope"].encode(), data["chain_id"])
        assert opened.txid == vector["txid"]
        assert opened.body_bytes == body


def test_negative_vectors_cover_every_envelope_code() -> None:
    data = _load("envelopes.json")
    seen = set()
    for vector in data["negative"]:
        with pytest.raises(LedgerError) as info:
            open_envelope(vector["envelope"].encode(), data["chain_id"])
        assert info.value.code == vector["error"], vector["name"]
        seen.add(info.value.error_code)
    envelope_codes = {c for c in ErrorCode if 1000 <= c.number < 1200}
    assert envelope_codes <= seen, envelope_codes - seen
