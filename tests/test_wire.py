"""Wire types: the registry's rules and the generated union."""

from __future__ import annotations

import json

import pytest

from domain.errors import ErrorCode, LedgerError
from streams.keys import Keypair
from streams.wire import (
    ADDRESS_FIELD_NAMES,
    AMOUNT_FIELD_NAMES,
    KINDS,
    Address,
    Amount,
    Body,
    Memo,
    Mint,
    Transfer,
    decode_body,
    register,
)


def test_registry() -> None:
    assert {"transfer": Transfer, "mint": Mint}.items() <= dict(KINDS).items()
    assert set(KINDS) == {
        "transfer", "mint", "task_publish", "task_cancel", "miner_register", "task_join",
        "solution_submit", "validator_register", "vote", "fraud_report", "fraud_confirm",
    }  # fmt: skip
    assert Transfer.address_fields == ("to", "signer")
    assert Transfer.utf8_limits == (("memo", 256),)
    assert {"to", "signer", "accused"} <= ADDRESS_FIELD_NAMES
    assert set(AMOUNT_FIELD_NAMES) == {"amount", "reward_amount", "stake_amount", "stake_required"}


def test_kind_property() -> None:
    assert Transfer.__struct_config__.tag == "transfer"
    body = Mint(chain_id="c", signer="s", nonce=1, created_at=0, to="t", amount=1)
    assert body.kind == "mint"


def test_register_refuses_a_taken_tag() -> None:
    class Again(Body, tag="transfer"):
        to: Address

    with pytest.raises(TypeError, match="taken"):
        register(Again)


def test_register_refuses_an_untyped_amount() -> None:
    class Loose(Body, tag="loose"):
        amount: int

    with pytest.raises(TypeError, match="Amount"):
        register(Loose)
    assert "loose" not in KINDS


def test_register_refuses_a_field_with_two_meanings() -> None:
    class Confused(Body, tag="confused"):
        to: Memo  # "to" is an address elsewhere
        reward: Amount

    with pytest.raises(TypeError, match="role is 'other' here but 'address'"):
        register(Confused)
    assert "confused" not in KINDS and "reward" not in AMOUNT_FIELD_NAMES


def _miner(**fields: object) -> bytes:
    signer = Keypair.from_seed32(bytes(32)).address
    body = {"chain_id": "c", "kind": "miner_register", "signer": signer, "nonce": 1,
            "created_at": 0, "miner_id": "m1", **fields}  # fmt: skip
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "fields",
    [
        {"skills": ["é" * 40]},  # 80 bytes, 40 code points: past msgspec's own check
        {"contact": {"é" * 40: "x"}},
        {"contact": {"web": "€" * 200}},  # 600 bytes
    ],
)
def test_utf8_limits_inside_lists_and_dicts(fields: dict[str, object]) -> None:
    with pytest.raises(LedgerError) as info:
        decode_body(_miner(**fields))
    assert info.value.error_code is ErrorCode.FIELD_INVALID
    assert "bytes in UTF-8" in info.value.reason


def test_utf8_limits_allow_what_fits() -> None:
    body = decode_body(_miner(skills=["é" * 32], contact={"web": "€" * 170}))
    assert body.kind == "miner_register"
