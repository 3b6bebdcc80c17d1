"""A marketplace ledger in the LEDGER wire format, for projection tests.

``RecordedLedger`` is tests/market_harness.py's MemoryLedger whose every commit (a
transaction with its TxRecord, accepted or rejected, or a clock tick) becomes one atomic
batch of LEDGER messages, mapped by eventsourcing's Mapper exactly as the persistence
module stores them, the last message carrying the batch's commit record. The aggregates
stay in ``store``: the expected figures are read from them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.application import Application

from domain.base import LedgerAggregate
from domain.book import Book
from domain.errors import LedgerError
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from projections.sample import append_batch, envelope_for
from tests.market_harness import MemoryLedger

Message = tuple[str, bytes, dict[str, str]]

KINDS = {
    "PublishTask": "task_publish", "CancelTask": "task_cancel",
    "RegisterMiner": "miner_register", "JoinTask": "task_join",
    "SubmitSolution": "solution_submit", "RegisterValidator": "validator_register",
    "CastVote": "vote", "ReportFraud": "fraud_report", "ConfirmFraud": "fraud_confirm",
    "Transfer": "transfer", "Mint": "mint",
}  # fmt: skip


def body_of(command: Any, chain_id: str) -> dict[str, Any]:
    """The signed body a client would have sent for ``command``."""
    ctx = command.ctx
    body: dict[str, Any] = {
        "chain_id": chain_id,
        "kind": KINDS[type(command).__name__],
        "signer": ctx.signer,
        "nonce": ctx.nonce,
    }
    for field in dataclasses.fields(command):
        if field.name != "ctx":
            value = getattr(command, field.name)
            body[field.name] = list(value) if isinstance(value, tuple) else value
    return body


class RecordedLedger(MemoryLedger):
    def __init__(self, prefix: str = "PREFIX") -> None:
        super().__init__()
        self.prefix = prefix
        self.messages: list[Message] = []
        self.records: dict[str, TxRecord] = {}
        self._app: Application[str] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self._prev = "0" * 64
        self._pending: TxRecord | None = None
        self._record(list(self.store.values()))  # genesis, and the market opening

    def messages_for(self, prefix: str) -> list[Message]:
        return [(prefix + s[len(self.prefix) :], d, dict(h)) for s, d, h in self.messages]

    def run(self, command: Any) -> str:
        """As MemoryLedger.run, each transaction recorded with its TxRecord; a refusal is
        recorded too (a rejected record alone), then raised."""
        ctx = command.ctx
        body = body_of(command, self.chain.chain_id)
        fields = dict(
            txid=ctx.txid, kind=body["kind"], signer=ctx.signer, nonce=ctx.nonce,
            envelope=envelope_for(body), intake_seq=len(self.records) + 1,
            sequenced_at=ctx.sequenced_at,
        )  # fmt: skip
        self._pending = TxRecord(status=ACCEPTED, **fields)
        try:
            return super().run(command)
        except LedgerError as err:
            rejected = TxRecord(status=REJECTED, code=err.code, reason=err.reason, **fields)
            self.records[ctx.txid] = rejected
            self._record([rejected])
            raise
        finally:
            self._pending = None

    def _commit(self, book: Book) -> None:
        aggregates: list[LedgerAggregate] = list(book.changed.values())
        if self._pending is not None:
            self.records[self._pending.txid] = self._pending
            aggregates.append(self._pending)
        self._record(aggregates)
        for aggregate in book.changed.values():
            self.store[aggregate.id] = aggregate

    def _record(self, aggregates: list[LedgerAggregate]) -> None:
        """One atomic batch: the aggregates' new events, the commit record on the last."""
        self._prev = append_batch(
            self.messages, self._app.mapper, self.prefix, aggregates, self._prev, self.now
        )
