"""Wire types: the registry's rules and the generated union."""

from __future__ import annotations

import pytest

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
