"""The pipelined sequencer on a real nats-server: it decides the next batch while JetStream
stores the last one. The ledger it writes must be the one the waiting sequencer writes,
and a write refused in flight (taking the writes sent after it down with it, by the
commit fence) must cost a resync, never a lost or repeated transaction."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import streams.ledger_writer as ledger_writer
from domain.handlers import create_chain
from domain.wallet import Wallet
from gateways.sdk import transactions
from streams.atomic_batch import send_atomic_batch
from streams.commit_chain import verify_stream
from streams.intake import MemoryIntake
from streams.jetstream import JetStreamError
from streams.keys import Keypair
from streams.ledger_app import LedgerApplication
from streams.sequencer import INTAKE_APPLICATION, Sequencer, transfers_per_batch
from streams.server import BATCH_LIMIT, EmbeddedNatsServer

CHAIN = "pipe-chain"
WALLETS = 12


def keypairs() -> list[Keypair]:
    return [Keypair.from_seed32(bytes([i + 1]) * 32) for i in range(WALLETS)]


def traffic(count: int, seed: int) -> list[bytes]:
    """Transfers among a few wallets: most accepted, some overdrawn, some replayed."""
    rng, keys = random.Random(seed), keypairs()
    nonces = {k.address: 0 for k in keys}
    envelopes: list[bytes] = []

    def send(src: Keypair, dst: Keypair, amount: int) -> None:
        nonces[src.address] += 1
        _, envelope = transactions.transfer(
            src, chain_id=CHAIN, to=dst.address, amount=amount,
            nonce=nonces[src.address], created_at=1,
        )  # fmt: skip
        envelopes.append(envelope)

    for key in keys[1:]:
        send(keys[0], key, 3_000)
    while len(envelopes) < count:
        if envelopes and rng.random() < 0.05:
            envelopes.append(rng.choice(envelopes))  # a replay
            continue
        src = rng.choice(keys)
        send(src, rng.choice([k for k in keys if k is not src]), rng.randint(1, 1_500))
    return envelopes


@pytest.fixture
def new_ledger(nats_server: EmbeddedNatsServer) -> Iterator[Any]:
    apps: list[LedgerApplication] = []

    def make(allocations: dict[str, int] | None = None, url: str = "") -> LedgerApplication:
        name = f"PIPE{uuid.uuid4().hex[:8].upper()}"
        app = LedgerApplication(env={
            "PERSISTENCE_MODULE": "streams.persistence",
            "HIVELEDGER_NATS_URL": url or nats_server.url,
            "HIVELEDGER_LEDGER_STREAM": name,
            "HIVELEDGER_LEDGER_PREFIX": f"pipe.{name.lower()}",
        })  # fmt: skip
        treasury = keypairs()[0].address
        funds = allocations or {treasury: 100_000}
        genesis = create_chain(CHAIN, treasury, funds, app.load_wallet)
        app.record(genesis.changed.values())
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.factory.close()


def run_to_end(app: LedgerApplication, envelopes: list[bytes], pipelined: bool) -> Sequencer:
    with ThreadPoolExecutor(2) as pool:
        sequencer = Sequencer(
            app, MemoryIntake(envelopes), CHAIN, pool=pool, clock=lambda: 1_000, max_txs=7
        )
        for _ in range(10 * len(envelopes)):
            if sequencer.stats.position >= len(envelopes):
                break
            sequencer.step(timeout=0, settle=not pipelined)
        sequencer.flush()
    return sequencer


def balances(app: LedgerApplication) -> dict[str, int]:
    app.forget()
    found = {}
    for key in keypairs():
        wallet = app.load(Wallet.create_id(key.address))
        found[key.address] = -1 if wallet is None else wallet.balance
    return found


def ledger_shape(app: LedgerApplication) -> list[tuple[str, int, str]]:
    """Every stored event's aggregate, version and topic, in stream order."""
    return [
        (n.originator_id, n.originator_version, n.topic)
        for n in app.recorder.select_notifications(start=None, limit=10_000)
    ]


def chain_head(app: LedgerApplication) -> Any:
    """Verify the hash chain of the whole stream; return its head."""
    ds = app.factory.datastore()  # type: ignore[attr-defined]
    return ds.run(verify_stream(ds.nc, ds.stream, ds.prefix))


def test_pipelined_and_waited_sequencers_write_the_same_ledger(new_ledger: Any) -> None:
    envelopes = traffic(120, seed=7)
    waited_app, piped_app = new_ledger(), new_ledger()
    waited = run_to_end(waited_app, envelopes, pipelined=False)
    piped = run_to_end(piped_app, envelopes, pipelined=True)
    assert piped.stats.position == waited.stats.position == len(envelopes)
    assert (piped.stats.accepted, piped.stats.rejected, piped.stats.duplicates) == (
        waited.stats.accepted, waited.stats.rejected, waited.stats.duplicates,
    )  # fmt: skip
    assert piped.stats.accepted > 60 and piped.stats.duplicates > 0
    assert balances(piped_app) == balances(waited_app)
    assert sum(balances(piped_app).values()) == 100_000
    assert ledger_shape(piped_app) == ledger_shape(waited_app)
    assert piped_app.process_recorder.max_tracking_id(INTAKE_APPLICATION) == len(envelopes)
    # + the genesis and the market's opening
    assert (
        chain_head(piped_app).commits == chain_head(waited_app).commits == waited.stats.batches + 2
    )


def test_a_write_refused_in_flight_costs_a_resync_not_a_transaction(
    new_ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 4th batch is sent with a fence that names a wrong head: the server refuses it,
    and the 5th, sent before the 4th was confirmed, is refused by its own fence. The
    sequencer reloads, takes INTAKE again from the recorded position, and finishes with
    the ledger a sequencer that never failed writes."""
    envelopes = traffic(90, seed=11)
    reference_app, app = new_ledger(), new_ledger()
    reference = run_to_end(reference_app, envelopes, pipelined=False)
    sent = {"batches": 0}

    async def sabotage(nc: Any, inbox: Any, messages: Any, limit: int) -> Any:
        sent["batches"] += 1
        if sent["batches"] == 4:
            subject, data, headers = messages[0]
            headers = {**headers, "Nats-Expected-Last-Sequence": "1"}  # not the head
            messages = [(subject, data, headers), *messages[1:]]
        return await send_atomic_batch(nc, inbox, messages, limit)

    monkeypatch.setattr(ledger_writer, "send_atomic_batch", sabotage)
    sequencer = run_to_end(app, envelopes, pipelined=True)
    assert sequencer.stats.retries >= 1
    assert sequencer.stats.position == len(envelopes)
    assert (sequencer.stats.accepted, sequencer.stats.rejected) == (
        reference.stats.accepted, reference.stats.rejected,
    )  # fmt: skip
    assert balances(app) == balances(reference_app)
    assert ledger_shape(app) == ledger_shape(reference_app)
    assert chain_head(app).commits == chain_head(reference_app).commits


def test_a_write_that_fails_before_it_is_sent_loses_nothing(
    new_ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 4's write fails before anything of it is sent (its look-up of the INTAKE
    position times out), so no fence stands in the way of batch 5. Batches touch disjoint
    wallets, so no version check would catch batch 5 either: the sequencer must settle
    batch 4 before deciding on top of it, or batch 4's transaction is lost."""
    import threading

    import nats.errors

    keys = [Keypair.from_seed32(bytes([100 + i]) * 32) for i in range(16)]
    funds = {key.address: 1_000 for key in keys[::2]}
    envelopes = [
        transactions.transfer(
            keys[i], chain_id=CHAIN, to=keys[i + 1].address, amount=100 + i, nonce=1,
            created_at=1,
        )[1]
        for i in range(0, 16, 2)
    ]  # fmt: skip
    app = new_ledger(funds)
    original = ledger_writer.LedgerWriter._position
    failed: list[int] = []

    async def slow_once(self: Any, tracking: Any) -> int:
        if tracking.notification_id == 4 and not failed:
            failed.append(4)
            raise nats.errors.TimeoutError
        return await original(self, tracking)

    monkeypatch.setattr(ledger_writer.LedgerWriter, "_position", slow_once)
    sequencer = Sequencer(
        app, MemoryIntake(envelopes), CHAIN, clock=lambda: 1_000, max_txs=1,
        pool=ThreadPoolExecutor(1),
    )  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop,))
    runner.start()
    try:
        for _ in range(400):
            if sequencer.stats.position == len(envelopes):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join(30)
    assert failed == [4] and sequencer.failure is None
    assert app.process_recorder.max_tracking_id(INTAKE_APPLICATION) == len(envelopes)
    app.forget()
    for i in range(0, 16, 2):
        sender = app.load(Wallet.create_id(keys[i].address))
        recipient = app.load(Wallet.create_id(keys[i + 1].address))
        assert recipient is not None, f"transfer {i // 2 + 1} was lost"
        assert (sender.balance, recipient.balance) == (1_000 - 100 - i, 100 + i)


def test_a_sequencer_writes_batches_as_large_as_the_server_takes(new_ledger: Any) -> None:
    """The embedded server takes atomic batches of BATCH_LIMIT messages: the sequencer
    finds out and takes ~4 times as many transfers a batch, writing the same ledger."""
    envelopes = traffic(1100, seed=3)
    large_app, default_app = new_ledger(), new_ledger()
    large = Sequencer(large_app, MemoryIntake(envelopes), CHAIN, clock=lambda: 1_000)
    default = Sequencer(
        default_app, MemoryIntake(envelopes), CHAIN, clock=lambda: 1_000, batch_messages=1000
    )
    assert large.max_txs == transfers_per_batch(BATCH_LIMIT) > default.max_txs
    assert default.max_txs == transfers_per_batch(1000)
    for sequencer in (large, default):
        for _ in range(100):
            if sequencer.stats.position >= len(envelopes):
                break
            sequencer.step(timeout=0, settle=False)
        sequencer.flush()
        assert sequencer.stats.position == len(envelopes)
    # 1100 transfers of 3 events or more: the first write held over 2,000 messages
    assert large.stats.batches == 2 and default.stats.batches >= 5
    # a batch groups its events by aggregate, so only the order across aggregates differs
    assert sorted(ledger_shape(large_app)) == sorted(ledger_shape(default_app))
    assert (large.stats.accepted, large.stats.rejected, large.stats.duplicates) == (
        default.stats.accepted, default.stats.rejected, default.stats.duplicates,
    )  # fmt: skip
    assert balances(large_app) == balances(default_app)
    assert chain_head(large_app).commits == large.stats.batches + 2


def run_until_done(sequencer: Sequencer, count: int) -> None:
    """``Sequencer.run`` (which resyncs after transient failures) until ``count`` taken."""
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop,))
    runner.start()
    try:
        for _ in range(1200):
            if sequencer.stats.position == count or sequencer.failure is not None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join(30)


def test_a_write_refused_for_its_size_costs_a_resync_and_smaller_batches(
    new_ledger: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes fewer messages a batch than the sequencer was told at start
    (its limit lowered, or a stream's leader moved): the write is refused for its size,
    the writer lowers its limit to the one the server states, and the sequencer resyncs
    and goes on in smaller batches, losing and repeating nothing."""
    envelopes = traffic(700, seed=5)
    reference_app = new_ledger()
    reference = Sequencer(reference_app, MemoryIntake(envelopes), CHAIN, clock=lambda: 1_000)
    run_until_done(reference, len(envelopes))

    async def told_4000(*_: Any) -> int:
        return 4000

    monkeypatch.setattr(ledger_writer, "probe_batch_limit", told_4000)
    with EmbeddedNatsServer(tmp_path / "nats", batch_limit=None) as default_server:
        app = new_ledger(url=default_server.url)
        sequencer = Sequencer(app, MemoryIntake(envelopes), CHAIN, clock=lambda: 1_000)
        assert sequencer.max_txs == transfers_per_batch(4000)
        run_until_done(sequencer, len(envelopes))
        assert sequencer.failure is None and sequencer.stats.position == len(envelopes)
        assert sequencer.stats.transient_errors >= 1
        assert app.batch_limit == 1000
        assert sequencer.max_txs == transfers_per_batch(1000)
        assert (sequencer.stats.accepted, sequencer.stats.rejected) == (
            reference.stats.accepted, reference.stats.rejected,
        )  # fmt: skip
        assert balances(app) == balances(reference_app)
        assert sorted(ledger_shape(app)) == sorted(ledger_shape(reference_app))
        chain_head(app)  # the hash chain verifies


def test_a_server_that_cannot_be_asked_gets_batches_of_1000(
    new_ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*_: Any) -> int:
        raise JetStreamError("no answer", code=503)

    monkeypatch.setattr(ledger_writer, "probe_batch_limit", refused)
    sequencer = Sequencer(new_ledger(), MemoryIntake([]), CHAIN, clock=lambda: 1_000)
    assert sequencer.max_txs == transfers_per_batch(1000)
