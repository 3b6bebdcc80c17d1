"""The two baselines, measured on the same envelopes as the node.

(a) raw JetStream: ``publish_async`` of every envelope to a plain stream; no checks.
(b) the eventsourcing library with its own SQLite persistence module doing the same
    verified transfers the way an eventsourcing application usually does: check the
    envelope, run the command on cached aggregates, save once per transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import nats

from domain.book import Book
from domain.dispatch import execute
from domain.errors import LedgerError
from domain.handlers import create_chain
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from gateways.bench.workload import Workload
from streams.envelope import OpenedTx
from streams.intake import IntakeMessage, check, recorded_envelope, to_command
from streams.jetstream import delete_stream, ensure_stream
from streams.ledger_app import LedgerApplication

RAW_STREAM = "BENCH_RAW"


async def raw_jetstream(url: str, workload: Workload, progress: Callable[[int], None]) -> float:
    nc = await nats.connect(url, name="hiveledger-bench-raw")
    try:
        await delete_stream(nc, RAW_STREAM)
        await ensure_stream(
            nc,
            {
                "name": RAW_STREAM,
                "subjects": ["bench.raw.>"],
                "storage": "file",
                "duplicate_window": 120_000_000_000,
            },
        )
        js = nc.jetstream(publish_async_max_pending=4000)
        started = time.perf_counter()
        for i, (txid, envelope) in enumerate(zip(workload.txids, workload.envelopes, strict=True)):
            await js.publish_async(
                "bench.raw.transfer", envelope, headers={"Nats-Msg-Id": txid}, wait_stall=30
            )
            if i % 1000 == 999:
                progress(1000)
        await asyncio.wait_for(js.publish_async_completed(), 120)
        elapsed = time.perf_counter() - started
        progress(workload.size % 1000)
        await delete_stream(nc, RAW_STREAM)
        return workload.size / elapsed
    finally:
        await nc.close()


def eventsourcing_sqlite(
    db_path: Path, workload: Workload, progress: Callable[[int], None]
) -> tuple[float, int]:
    app = LedgerApplication(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(db_path),
        }
    )
    treasury = workload.treasury.address
    genesis = create_chain(workload.chain_id, treasury, {treasury: 10**18}, app.load_wallet)
    app.record(genesis.changed.values())
    chain = genesis.chain
    accepted = 0
    started = time.perf_counter()
    for i, envelope in enumerate(workload.envelopes):
        item = check(IntakeMessage(i + 1, "hive.intake.transfer", envelope), workload.chain_id)
        assert isinstance(item, OpenedTx), item
        book = Book(chain, app.load_wallet)
        fields = {
            "txid": item.txid,
            "kind": item.body.kind,
            "signer": item.body.signer,
            "nonce": item.body.nonce,
            "envelope": recorded_envelope(envelope),
            "intake_seq": i + 1,
            "sequenced_at": 0,
        }
        try:
            execute(to_command(item, 0), book)
            record = TxRecord.decided(status=ACCEPTED, **fields)
            accepted += 1
        except LedgerError as error:
            record = TxRecord.decided(
                status=REJECTED, code=error.code, reason=error.reason, **fields
            )
        app.record([*book.changed.values(), record])
        if i % 500 == 499:
            progress(500)
    elapsed = time.perf_counter() - started
    progress(workload.size % 500)
    app.factory.close()
    return workload.size / elapsed, accepted
