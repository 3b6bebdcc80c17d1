"""The sequencer alone: real recorder and JetStream, INTAKE replaced by a list in memory,
no projector. Separates the sequencer's own cost from the node's CPU sharing.

    python -m gateways.bench.sequencer_only 40000 [--wallets 1000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats

from domain.handlers import create_chain
from gateways.bench.cpu import cpu_seconds
from gateways.bench.workload import bench_keypair, make_workload
from streams.intake import IntakeMessage
from streams.jetstream import ensure_ledger_stream
from streams.ledger_app import LedgerApplication
from streams.sequencer import Sequencer
from streams.server import EmbeddedNatsServer


class ListSource:
    def __init__(self, messages: list[IntakeMessage]) -> None:
        self.messages = messages

    def fetch(self, start_seq: int, limit: int, timeout: float = 0) -> list[IntakeMessage]:
        return self.messages[start_seq - 1 : start_seq - 1 + limit]


async def _make_stream(url: str) -> None:
    nc = await nats.connect(url)
    await ensure_ledger_stream(nc)
    await nc.close()


def measure(n: int, wallets: int, pipelined: bool = True) -> dict[str, float]:
    treasury = bench_keypair("treasury")
    workload = make_workload(n, wallets, "bench", treasury)
    messages = [
        IntakeMessage(i + 1, "hive.intake.transfer", e) for i, e in enumerate(workload.envelopes)
    ]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNatsServer(Path(tmp)) as server:
        asyncio.run(_make_stream(server.url))
        app = LedgerApplication(env={
            "PERSISTENCE_MODULE": "streams.persistence", "HIVELEDGER_NATS_URL": server.url,
        })  # fmt: skip
        genesis = create_chain(
            "bench", treasury.address, {treasury.address: 10**18}, app.load_wallet
        )
        app.record(genesis.changed.values())
        server_cpu = cpu_seconds(server.process.pid) or 0.0
        with ThreadPoolExecutor(2, "verify") as pool:
            sequencer = Sequencer(app, ListSource(messages), "bench", pool=pool)
            started = time.perf_counter()
            while sequencer.position < n:
                sequencer.step(settle=not pipelined)
            sequencer.flush()
            elapsed = time.perf_counter() - started
        server_cpu = (cpu_seconds(server.process.pid) or 0.0) - server_cpu
        app.factory.close()
    stats = sequencer.stats
    return {
        "n": n, "wallets": wallets, "pipelined": pipelined, "tx_per_s": round(n / elapsed, 1),
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
    args = parser.parse_args()
    result = measure(args.n, args.wallets, pipelined=not args.no_pipeline)
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
