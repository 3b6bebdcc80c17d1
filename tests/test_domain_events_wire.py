"""The domain's stored events are a wire format: topics and JSON states must not drift.

A fixed scenario (genesis, transfers, mints, transaction records, a marketplace lifecycle
with fraud, cancel and expiry) is run on aggregates in memory with the clock pinned; every
event is mapped exactly as the ledger stores it (eventsourcing's Mapper with the project's
transcoder) and compared with tests/vectors/domain_events.json, captured from the code
before the hot events moved from ``@event`` decorators to declared event classes. Each
aggregate rebuilt from its stored events must also equal the live one.

Regenerate the vectors only for a deliberate change of the wire format:
    .venv/bin/python -m tests.test_domain_events_wire --write
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Mapper, UUIDAsHex

from domain.base import LedgerEvent
from domain.commands import Mint, Transfer
from domain.market_commands import CancelTask, ConfirmFraud, ReportFraud
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from streams.transcoder import MsgspecTranscoder
from tests.market_harness import HOUR, TREASURY, MemoryLedger

VECTORS = Path(__file__).parent / "vectors" / "domain_events.json"
PINNED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PUB, M1, M2, V1, V2, V3 = "pub", "m1", "m2", "v1", "v2", "v3"


class RecordingLedger(MemoryLedger):
    """MemoryLedger that keeps every event it commits, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Any] = []
        for aggregate in list(self.store.values()):
            self.events.extend(aggregate.collect_events())

    def _commit(self, book: Any) -> None:
        for aggregate in book.changed.values():
            self.events.extend(aggregate.pending_events)
        super()._commit(book)

    def record(self, status: str, code: str = "") -> None:
        ctx = self.ctx(TREASURY, nonce=0)
        record = TxRecord(
            txid=ctx.txid, status=status, kind="transfer", signer=ctx.signer, nonce=ctx.nonce,
            envelope="ZW52", intake_seq=self.count, sequenced_at=self.now, code=code,
            reason="why" if code else "",
        )  # fmt: skip
        self.store[record.id] = record
        self.events.extend(record.collect_events())


def payments(ledger: RecordingLedger) -> None:
    for who in (PUB, M1, M2, V1, V2, V3):
        ledger.fund(who, 10_000)
    ledger.run(Transfer(ledger.ctx(PUB), to=M1, amount=123, memo="existing recipient"))
    ledger.run(Transfer(ledger.ctx(M1), to="fresh", amount=7))
    ledger.run(Mint(ledger.ctx(TREASURY), to="minted", amount=55))
    ledger.run(Mint(ledger.ctx(TREASURY), to=PUB, amount=5))
    ledger.record(ACCEPTED)
    ledger.record(REJECTED, code="nonce_gap")


def marketplace(ledger: RecordingLedger) -> None:
    for miner in (M1, M2):
        ledger.miner(miner)
    for validator in (V1, V2, V3):
        ledger.validator(validator, stake=100)
    task = ledger.publish(PUB, reward=1_000)
    ledger.join(M1, task, stake=300)
    ledger.join(M2, task)
    s1, s2 = ledger.submit(M1, task, "copied"), ledger.submit(M2, task, "original")
    fraud = ledger.run(ReportFraud(
        ledger.ctx(M2), accused=M1, task_id=task, kind="plagiarism",
        evidence_hash="e" * 64, submission_id=s1,
    ))  # fmt: skip
    for v in (V1, V2):  # 200 of 300 staked: confirmed
        ledger.run(ConfirmFraud(ledger.ctx(v), fraud_id=fraud))
    ledger.tick(ledger.now + HOUR)
    for v, a, b in ((V1, 99, 70), (V2, 98, 72), (V3, 97, 71)):
        ledger.vote(v, s1, a)
        ledger.vote(v, s2, b)
    ledger.tick(ledger.now + 1)
    cancelled = ledger.publish(PUB, reward=300)
    ledger.run(CancelTask(ledger.ctx(PUB), task_id=cancelled))
    lonely = ledger.publish(PUB, reward=200)
    ledger.join(M2, lonely)
    ledger.tick(ledger.now + 2 * HOUR)


def mapper() -> Mapper[str]:
    transcoder = MsgspecTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def run_scenario() -> RecordingLedger:
    ledger = RecordingLedger()
    payments(ledger)
    marketplace(ledger)
    return ledger


def stored(events: list[Any]) -> list[list[Any]]:
    m = mapper()
    rows = []
    for event in events:
        s = m.to_stored_event(event)
        rows.append([s.originator_id, s.originator_version, s.topic, s.state.decode()])
    return rows


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(LedgerEvent, "create_timestamp", staticmethod(lambda: PINNED))
    yield


def test_stored_events_are_unchanged(pinned_clock: None) -> None:
    rows = stored(run_scenario().events)
    expected = json.loads(VECTORS.read_text())
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        assert row == want


def test_every_aggregate_rebuilds_from_its_stored_events(pinned_clock: None) -> None:
    ledger = run_scenario()
    m = mapper()
    rebuilt: dict[str, Any] = {}
    for event in ledger.events:
        again: CanMutateAggregate[str] = m.to_domain_event(m.to_stored_event(event))
        assert type(again) is type(event) and again == event
        rebuilt[event.originator_id] = again.mutate(rebuilt.get(event.originator_id))
    assert rebuilt.keys() == ledger.store.keys()
    for key, aggregate in ledger.store.items():
        assert rebuilt[key] == aggregate, key


def write_vectors() -> None:
    LedgerEvent.create_timestamp = staticmethod(lambda: PINNED)  # type: ignore[method-assign]
    rows = stored(run_scenario().events)
    VECTORS.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(rows)} events written to {VECTORS}")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write_vectors()
