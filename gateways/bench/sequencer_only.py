"""The sequencer alone: real recorder and JetStream, INTAKE filled before the clock starts,
no projector. Separates the sequencer's own cost from the node's CPU sharing.

    python -m gateways.bench.sequencer_only 20000 [--wallets 1000] [--no-pipeline]
        [--checks process|threads] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats

from domain.handlers import create_chain
from gateways.bench.cpu import cpu_seconds
from gateways.bench.workload import bench_keypair, make_workload
from streams.check_stage import CheckedFeed, CheckStageError, InProcessFeed, ProcessFeed
from streams.intake import MemoryIntake
from streams.intake_bulk import publish_bulk
from streams.jetstream import ensure_intake_stream, ensure_ledger_stream
from streams.ledger_app import LedgerApplication
from streams.sequencer import Sequencer
from streams.server import EmbeddedNatsServer


async def _make_streams(url: str, envelopes: list[bytes] | None) -> None:
    nc = await nats.connect(url)
    await ensure_ledger_stream(nc)
    if envelopes is not None:  # INTAKE filled before the clock starts
        await ensure_intake_stream(nc)
        await publish_bulk(nc, [("transfer", e) for e in envelopes])
    await nc.close()


@contextlib.contextmanager
def _feed(checks: str, url: str, envelopes: list[bytes]) -> Iterator[CheckedFeed]:
    """The node's way (INTAKE on JetStream, checks in a process) or threads beside the
    sequencer with INTAKE as a list in memory."""
    if checks == "process":
        feed: CheckedFeed = ProcessFeed(url, "bench")
        try:
            yield feed
        finally:
            feed.close()
        return
    with ThreadPoolExecutor(2, "verify") as pool:
        yield InProcessFeed(MemoryIntake(envelopes), "bench", pool)


def measure(
    n: int, wallets: int, pipelined: bool = True, checks: str = "process"
) -> dict[str, float]:
    treasury = bench_keypair("treasury")
    workload = make_workload(n, wallets, "bench", treasury)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNatsServer(Path(tmp)) as server:
        asyncio.run(_make_streams(server.url, workload.envelopes if checks == "process" else None))
        app = LedgerApplication(env={
            "PERSISTENCE_MODULE": "streams.persistence", "HIVELEDGER_NATS_URL": server.url,
        })  # fmt: skip
        genesis = create_chain(
            "bench", treasury.address, {treasury.address: 10**18}, app.load_wallet
        )
        app.record(genesis.changed.values())
        server_cpu = cpu_seconds(server.process.pid) or 0.0
        with _feed(checks, server.url, workload.envelopes) as feed:
            sequencer = Sequencer(app, None, "bench", feed=feed)
            started = time.perf_counter()
            while sequencer.position < n:
                try:
                    sequencer.step(settle=not pipelined)
                except CheckStageError:  # a slow INTAKE read: asked again, as run() does
                    continue
            sequencer.flush()
            elapsed = time.perf_counter() - started
        server_cpu = (cpu_seconds(server.process.pid) or 0.0) - server_cpu
        app.factory.close()
    stats = sequencer.stats
    return {
        "n": n, "wallets": wallets, "pipelined": pipelined, "checks": checks,
        "tx_per_s": round(n / elapsed, 1),
        "check_us_per_tx": round(stats.seconds_check / n * 1e6, 1),
        "execute_us_per_tx": round(stats.seconds_execute / n * 1e6, 1),
        "record_us_per_tx": round(stats.seconds_record / n * 1e6, 1),
        "wait_us_per_tx": round(stats.seconds_wait / n * 1e6, 1),
        "batches": stats.batches,
        "nats_server_cpu_us_per_tx": round(server_cpu / n * 1e6, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=40_000)
    parser.add_argument("--wallets", type=int, default=1_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-pipeline", action="store_true", help="wait for each batch's ack")
    parser.add_argument(
        "--checks", choices=["process", "threads"], default="process",
        help="process: INTAKE on JetStream, checked in a process (the node's way); "
        "threads: INTAKE in memory, checked on two threads beside the sequencer",
    )  # fmt: skip
    args = parser.parse_args()
    result = measure(args.n, args.wallets, pipelined=not args.no_pipeline, checks=args.checks)
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
