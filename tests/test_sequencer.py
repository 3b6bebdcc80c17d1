"""The sequencer on the library's in-memory persistence: decisions, rejections, duplicates,
exactly-once tracking. The JetStream path is covered end to end in test_node_*.py."""

from __future__ import annotations

import pytest

from domain.chain import Chain
from domain.handlers import create_chain
from domain.transaction import TxRecord
from domain.wallet import Wallet
from gateways.sdk import transactions
from streams.intake import IntakeMessage, MemoryIntake, raw_id
from streams.keys import Keypair
from streams.ledger_app import LedgerApplication
from streams.sequencer import INTAKE_APPLICATION, Sequencer

CHAIN = "test-chain"


@pytest.fixture
def keys() -> dict[str, Keypair]:
    return {name: Keypair.from_seed32(bytes([i + 1]) * 32) for i, name in enumerate("tab")}


@pytest.fixture
def ledger(keys: dict[str, Keypair]) -> tuple[LedgerApplication, MemoryIntake, Sequencer]:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    treasury = keys["t"].address
    app.record(create_chain(CHAIN, treasury, {treasury: 1_000}, app.load_wallet).changed.values())
    source = MemoryIntake()
    return app, source, Sequencer(app, source, CHAIN, clock=lambda: 1_000)


def send(
    keys: dict[str, Keypair], src: str, dst: str, amount: int, nonce: int, **kw: object
) -> bytes:
    _, envelope = transactions.transfer(
        keys[src],
        chain_id=kw.pop("chain_id", CHAIN),
        to=keys[dst].address,
        amount=amount,
        nonce=nonce,
        created_at=500,
        **kw,  # type: ignore[arg-type]
    )
    return envelope


def record(app: LedgerApplication, txid: str) -> TxRecord:
    return app.repository.get(TxRecord.create_id(txid))


def balance(app: LedgerApplication, keypair: Keypair) -> int:
    wallet = app.get_or_none(Wallet.create_id(keypair.address))
    return 0 if wallet is None else wallet.balance


def test_accepts_rejects_and_records_position(ledger, keys) -> None:
    app, source, sequencer = ledger
    ok = send(keys, "t", "a", 100, 1)
    gap = send(keys, "t", "a", 5, 3)
    poor = send(keys, "a", "b", 500, 1)
    wrong_chain = send(keys, "t", "b", 1, 2, chain_id="other")
    for data in (ok, gap, poor, wrong_chain, b"not json"):
        source.add(data)
    assert sequencer.step() == 5
    assert (balance(app, keys["t"]), balance(app, keys["a"]), balance(app, keys["b"])) == (
        900,
        100,
        0,
    )
    assert app.process_recorder.max_tracking_id(INTAKE_APPLICATION) == 5
    stats = sequencer.stats
    assert (stats.accepted, stats.rejected, stats.duplicates) == (1, 4, 0)
    from streams.envelope import open_envelope

    codes = {
        open_envelope(gap, CHAIN).txid: "nonce_gap",
        open_envelope(poor, CHAIN).txid: "insufficient_funds",
        raw_id(wrong_chain): "chain_id_wrong",
        raw_id(b"not json"): "envelope_malformed",
    }
    for txid, code in codes.items():
        rec = record(app, txid)
        assert (rec.status, rec.code) == ("rejected", code)
    assert record(app, open_envelope(ok, CHAIN).txid).status == "accepted"
    chain = app.repository.get(Chain.create_id(CHAIN))
    assert chain.supply == 1_000


def test_duplicates_change_nothing_even_after_restart(ledger, keys) -> None:
    app, source, sequencer = ledger
    envelope = send(keys, "t", "a", 10, 1)
    source.add(envelope)
    source.add(envelope)  # replay inside one batch
    sequencer.step()
    source.add(envelope)  # replay in a later batch
    sequencer.step()
    assert sequencer.stats.duplicates == 2
    restarted = Sequencer(app, source, CHAIN, clock=lambda: 2_000)  # forgets what it saw
    source.add(envelope)  # a replay after a restart: the store refuses, the retry skips it
    restarted.step()
    assert restarted.stats.retries == 1 and restarted.stats.duplicates == 1
    assert balance(app, keys["a"]) == 10
    assert app.process_recorder.max_tracking_id(INTAKE_APPLICATION) == 4


def test_restart_resumes_after_the_recorded_position(ledger, keys) -> None:
    app, source, sequencer = ledger
    source.add(send(keys, "t", "a", 10, 1))
    sequencer.step()
    source.add(send(keys, "t", "a", 10, 2))
    restarted = Sequencer(app, source, CHAIN, clock=lambda: 2_000)
    assert restarted.position == 1
    assert restarted.step() == 1
    assert balance(app, keys["a"]) == 20


def test_expired_transaction_is_rejected_by_the_sequencers_clock(ledger, keys) -> None:
    app, source, sequencer = ledger
    envelope = send(keys, "t", "a", 10, 1, expires_at=999)  # sequencer clock says 1000
    source.add(envelope)
    sequencer.step()
    from streams.envelope import open_envelope

    rec = record(app, open_envelope(envelope, CHAIN).txid)
    assert (rec.code, rec.sequenced_at) == ("expired", 1_000)
    assert balance(app, keys["a"]) == 0


class FlakySource(MemoryIntake):
    """Times out on chosen fetches, as a loaded server might."""

    def __init__(self, fail_on: set[int]) -> None:
        super().__init__()
        self.calls = 0
        self.fail_on = fail_on

    def fetch(self, start_seq: int, limit: int, timeout: float = 0) -> list[IntakeMessage]:
        self.calls += 1
        if self.calls in self.fail_on:
            raise TimeoutError("no result within 2.0s")
        return super().fetch(start_seq, limit, timeout)


def test_a_timeout_costs_a_resync_not_the_sequencer(keys) -> None:
    import threading

    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    treasury = keys["t"].address
    app.record(create_chain(CHAIN, treasury, {treasury: 1_000}, app.load_wallet).changed.values())
    source = FlakySource(fail_on={1, 2})
    sequencer = Sequencer(app, source, CHAIN, clock=lambda: 1_000)
    source.add(send(keys, "t", "a", 10, 1))
    stop = threading.Event()
    thread = threading.Thread(target=sequencer.run, args=(stop,), daemon=True)
    thread.start()
    for _ in range(200):
        if sequencer.stats.accepted:
            break
        stop.wait(0.02)
    stop.set()
    thread.join(5)
    assert sequencer.stats.transient_errors == 2 and sequencer.failure is None
    assert sequencer.stats.accepted == 1 and balance(app, keys["a"]) == 10


def test_a_failed_intake_read_is_asked_again_without_reloading(ledger, keys) -> None:
    """A slow or lost check stage says nothing about the ledger: the sequencer retries the
    read and keeps the aggregates it holds (reloading them is what would cost)."""
    import threading

    from streams.check_stage import CheckStageError, InProcessFeed

    app, source, _ = ledger
    for nonce in range(1, 4):
        source.add(send(keys, "t", "a", 10, nonce))

    class FlakyFeed(InProcessFeed):
        failures = 2

        def take(self):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                raise CheckStageError("the check process did not answer in time")
            return super().take()

    forgotten: list[int] = []
    app.forget = lambda: forgotten.append(1)  # type: ignore[method-assign]
    sequencer = Sequencer(app, None, CHAIN, clock=lambda: 1_000, feed=FlakyFeed(source, CHAIN))
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop,))
    runner.start()
    try:
        for _ in range(200):
            if sequencer.stats.position == 3:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join(10)
    assert sequencer.stats.position == 3 and sequencer.stats.transient_errors == 2
    assert forgotten == [] and sequencer.failure is None
    assert balance(app, keys["a"]) == 30


def test_tasks_due_at_the_same_millisecond_are_recorded_one_write_each(keys) -> None:
    """However many tasks fall due at once, each clock write holds one task's events, so
    no write can outgrow the server's batch limit (and fail again at every restart)."""
    from domain.task import Task
    from streams import wire_market

    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    publisher = keys["t"]
    app.record(
        create_chain(
            CHAIN, publisher.address, {publisher.address: 10_000}, app.load_wallet
        ).changed.values()
    )
    now = {"ms": 1_000}
    source = MemoryIntake()
    sequencer = Sequencer(app, source, CHAIN, clock=lambda: now["ms"])
    task_ids = []
    for nonce in (1, 2, 3):
        txid, envelope = transactions.sign(
            publisher, wire_market.TaskPublish, chain_id=CHAIN, nonce=nonce, created_at=500,
            title="t", description="d", task_type="code_analysis", difficulty="beginner",
            reward_amount=1_000, stake_required=10, deadline=5_000,
            verification_type="peer_review", quality_threshold=60, max_participants=5,
        )  # fmt: skip
        source.add(envelope, "task_publish")
        task_ids.append(txid)
    while sequencer.stats.position < 3:
        sequencer.step(timeout=0)
    assert balance(app, publisher) == 10_000 - 3_000
    writes: list[list[str]] = []
    record = app.record

    def counted(aggregates, tracking=None):  # type: ignore[no-untyped-def]
        aggregates = list(aggregates)
        writes.append(sorted(a.id for a in aggregates if isinstance(a, Task)))
        return record(aggregates, tracking)

    app.record = counted  # type: ignore[method-assign]
    now["ms"] = 5_001  # all three expire now, unjoined
    moved = sequencer.tick()
    assert sorted(moved) == sorted(task_ids)
    assert writes == [[Task.create_id(t)] for t in sorted(task_ids)]
    assert balance(app, publisher) == 10_000, "every escrow went back"
    assert sequencer.market.due_tasks(10**15) == []
