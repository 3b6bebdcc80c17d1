"""Intake: what arrives on ``hive.intake.<kind>``, checked and turned into domain commands.

Checking (size, envelope, signature, strict body decoding, chain id) is pure and runs on
both cores; it never touches ledger state. Turning a checked body into a command is the
only place that knows both the wire types and the domain's commands.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from domain.commands import Command, Mint, Transfer, TxContext
from domain.errors import ErrorCode, LedgerError
from streams import wire
from streams.envelope import OpenedTx, open_envelope

INTAKE_PREFIX = "hive.intake"
RAW_ID_DOMAIN = b"hiveledger-raw\x00"
MAX_RECORDED_ENVELOPE = 16 * 1024


@dataclass(frozen=True, slots=True)
class IntakeMessage:
    seq: int
    subject: str
    data: bytes


class IntakeSource(Protocol):
    def fetch(self, start_seq: int, limit: int, timeout: float) -> list[IntakeMessage]:
        """Up to ``limit`` messages with sequence >= ``start_seq``, in order; [] if none."""
        ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """An intake message refused before its signature could vouch for it.

    It gets an id of its own (SHA-256 of a domain tag and the raw bytes), never the
    transaction id the bytes claim: otherwise anyone could publish a broken copy of
    somebody's pending transaction and have the real one ignored as a duplicate.
    """

    txid: str
    kind: str
    error: LedgerError


def raw_id(data: bytes) -> str:
    return hashlib.sha256(RAW_ID_DOMAIN + data).hexdigest()


def kind_of_subject(subject: str) -> str:
    prefix = INTAKE_PREFIX + "."
    return subject[len(prefix) :] if subject.startswith(prefix) else subject


def check(message: IntakeMessage, chain_id: str) -> OpenedTx | Refusal:
    try:
        return open_envelope(message.data, chain_id)
    except LedgerError as error:
        return Refusal(raw_id(message.data), kind_of_subject(message.subject)[:64], error)


def recorded_envelope(data: bytes) -> str:
    """What a transaction record keeps of the raw envelope: all of it, up to a bound."""
    return base64.b64encode(data).decode() if len(data) <= MAX_RECORDED_ENVELOPE else ""


def _transfer(body: Any, ctx: TxContext) -> Command:
    return Transfer(ctx, to=body.to, amount=body.amount, memo=body.memo)


def _mint(body: Any, ctx: TxContext) -> Command:
    return Mint(ctx, to=body.to, amount=body.amount, memo=body.memo)


COMMANDS: dict[type[Any], Callable[[Any, TxContext], Command]] = {
    wire.Transfer: _transfer,
    wire.Mint: _mint,
}


def to_command(tx: OpenedTx, sequenced_at: int) -> Command:
    body = tx.body
    ctx = TxContext(
        txid=tx.txid,
        signer=body.signer,
        nonce=body.nonce,
        sequenced_at=sequenced_at,
        expires_at=body.expires_at,
    )
    try:
        make = COMMANDS[type(body)]
    except KeyError:
        raise LedgerError(ErrorCode.KIND_UNKNOWN, f"no handler for kind {body.kind!r}") from None
    return make(body, ctx)
