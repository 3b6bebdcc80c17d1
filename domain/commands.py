"""Commands the sequencer runs on the domain, free of any wire format."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TxContext:
    """What every signed transaction carries into the domain."""

    txid: str
    signer: str
    nonce: int
    sequenced_at: int  # unix ms, the sequencer's clock, recorded in the ledger
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    ctx: TxContext
    to: str
    amount: int
    memo: str = ""


@dataclass(frozen=True, slots=True)
class Mint:
    ctx: TxContext
    to: str
    amount: int
    memo: str = ""


Command = Transfer | Mint
