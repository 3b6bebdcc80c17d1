"""Intake: what arrives on ``hive.intake.<kind>``, checked and turned into domain commands.

Checking (size, envelope, signature, strict body decoding, chain id) is pure and runs on
both cores; it never touches ledger state. Turning a checked body into a command is the
only place that knows both the wire types and the domain's commands.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from domain import market_commands as mc
from domain.commands import Command, Mint, Transfer, TxContext
from domain.errors import ErrorCode, LedgerError
from streams import wire
from streams import wire_market as wm
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


class MemoryIntake:
    """INTAKE as a list in memory (tests, benchmarks): message i has seq i + 1."""

    def __init__(self, envelopes: Iterable[bytes] = (), kind: str = "transfer") -> None:
        self.messages: list[IntakeMessage] = []
        for data in envelopes:
            self.add(data, kind)

    def add(self, data: bytes, kind: str = "transfer") -> int:
        seq = len(self.messages) + 1
        self.messages.append(IntakeMessage(seq, f"{INTAKE_PREFIX}.{kind}", data))
        return seq

    def fetch(self, start_seq: int, limit: int, timeout: float = 0) -> list[IntakeMessage]:
        return self.messages[start_seq - 1 : start_seq - 1 + limit]


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


COMMANDS: dict[type[Any], Callable[[Any, TxContext], Any]] = {
    wire.Transfer: _transfer,
    wire.Mint: _mint,
    wm.TaskPublish: lambda b, ctx: mc.PublishTask(
        ctx, title=b.title, description=b.description, task_type=b.task_type.value,
        difficulty=b.difficulty.value, reward=b.reward_amount, stake_required=b.stake_required,
        deadline=b.deadline, validation_window=b.validation_window,
        verification_type=b.verification_type.value, quality_threshold=b.quality_threshold,
        max_participants=b.max_participants,
    ),
    wm.TaskCancel: lambda b, ctx: mc.CancelTask(ctx, task_id=b.task_id),
    wm.MinerRegister: lambda b, ctx: mc.RegisterMiner(
        ctx, miner_id=b.miner_id, skills=tuple(b.skills),
        specializations=tuple(s.value for s in b.specializations), contact=dict(b.contact),
    ),
    wm.TaskJoin: lambda b, ctx: mc.JoinTask(ctx, task_id=b.task_id, stake=b.stake_amount),
    wm.SolutionSubmit: lambda b, ctx: mc.SubmitSolution(
        ctx, task_id=b.task_id, content_hash=b.content_hash, content=b.content,
        content_uri=b.content_uri,
    ),
    wm.ValidatorRegister: lambda b, ctx: mc.RegisterValidator(ctx, stake=b.stake_amount),
    wm.Vote: lambda b, ctx: mc.CastVote(ctx, submission_id=b.submission_id, score=b.score),
    wm.FraudReport: lambda b, ctx: mc.ReportFraud(
        ctx, accused=b.accused, task_id=b.task_id, kind=b.fraud_type.value,
        evidence_hash=b.evidence_hash, submission_id=b.submission_id,
    ),
    wm.FraudConfirm: lambda b, ctx: mc.ConfirmFraud(ctx, fraud_id=b.fraud_id),
}  # fmt: skip

# The most events one transaction of each kind can add to a batch (its record included):
# the sequencer stops filling a batch before JetStream's atomic batch limit.
# A transfer: debited, opened (a new recipient), credited, record. A mint: nonce used,
# minted, opened, credited, record. The sequencer asserts each batch stays within them.
EVENTS_MAX: dict[str, int] = {"transfer": 4, "mint": 5, "fraud_confirm": 12}
EVENTS_MAX_DEFAULT = 8


def events_max(item: OpenedTx | Refusal) -> int:
    if isinstance(item, Refusal):
        return 1
    return EVENTS_MAX.get(item.body.kind, EVENTS_MAX_DEFAULT)


def to_command(tx: OpenedTx, sequenced_at: int) -> Any:
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
