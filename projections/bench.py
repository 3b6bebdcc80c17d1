"""Measure projection throughput: ``python -m projections.bench --events 100000``.

Builds a ledger with the domain (projections/sample.py), publishes it to a LEDGER stream on
an embedded nats-server (atomic batches of 1000, ``sync_interval: always``), then:

1. end to end: a BatchProjectionRunner from an empty DuckDB file until every view has
   applied the last message (ordered consumer, decode, DuckDB transactions, checkpoints);
2. DuckDB side only: the same messages from memory through ``Projector.apply``.

Each phase also reports the CPU time this process spent on it (every thread: DuckDB's and
the NATS client's; not nats-server's), per event: on a node the projector shares the
cores with the sequencer and nats-server, so CPU per event is what limits throughput.

Prints one JSON object; docs/PROJECTIONS.md quotes its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from projections.db import ProjectionDB
from projections.projector import Projector
from projections.records import RawMsg
from projections.runner import DEFAULT_BATCH_SIZE, BatchProjectionRunner
from projections.sample import build_sample, chunks
from projections.views import default_views
from streams.jetstream import ensure_ledger_stream, publish_atomic_batch
from streams.server import EmbeddedNatsServer

STREAM, PREFIX = "LEDGER_BENCH", "bench.ledger"


async def end_to_end(
    url: str, path: Path, last: int, batch_size: int, threads: int | None
) -> dict[str, Any]:
    nc = await nats.connect(url)
    db = ProjectionDB(path, threads=threads)
    runner = BatchProjectionRunner(db, nc, stream=STREAM, prefix=PREFIX, batch_size=batch_size)
    started, cpu = time.perf_counter(), time.process_time()
    await runner.start()
    reached = await runner.wait_for(last, timeout=600)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await runner.stop()
    stats = runner.stats
    db.close()
    await nc.close()
    if not reached:
        raise RuntimeError(f"the runner did not reach {last}: {runner.error}")
    return {
        "seconds": round(elapsed, 2),
        "events_per_s": round(stats.events / elapsed),
        "cpu_us_per_event": round(cpu / max(stats.events, 1) * 1e6, 1),
        "batches": stats.batches,
        "mean_batch": round(stats.messages / max(stats.batches, 1)),
        "max_lag_ms": round(stats.max_lag_ms),
        "db_mb": round(path.stat().st_size / 2**20, 1),
    }


def duckdb_only(
    messages: list[RawMsg], path: Path, batch_size: int, threads: int | None
) -> dict[str, Any]:
    db = ProjectionDB(path, threads=threads)
    projector = Projector(db, default_views(), PREFIX)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), batch_size):
        projector.apply(messages[i : i + batch_size])
    db.writer.execute("CHECKPOINT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return {
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(messages) / elapsed),
        "cpu_us_per_event": round(cpu / len(messages) * 1e6, 1),
    }


async def publish(url: str, messages: list[tuple[str, bytes, dict[str, str]]]) -> float:
    nc = await nats.connect(url)
    await ensure_ledger_stream(nc, STREAM, PREFIX)
    started = time.perf_counter()
    for chunk in chunks(messages, 1000):
        await publish_atomic_batch(nc, chunk, timeout=30)
    elapsed = time.perf_counter() - started
    await nc.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    ledger = build_sample(0, wallets=1000, prefix=PREFIX, min_messages=args.events)
    messages = ledger.messages[: args.events]
    built = time.perf_counter() - started
    raws = [RawMsg(i + 1, s, h, d, 0) for i, (s, d, h) in enumerate(messages)]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNatsServer(Path(tmp) / "nats") as server:
        published = asyncio.run(publish(server.url, messages))
        e2e = asyncio.run(
            end_to_end(
                server.url, Path(tmp) / "e2e.duckdb", len(messages), args.batch_size, args.threads
            )
        )
        local = duckdb_only(raws, Path(tmp) / "local.duckdb", args.batch_size, args.threads)
    statuses = [r.status for r in ledger.records.values()]
    print(
        json.dumps(
            {
                "events": len(messages),
                "transactions": len(statuses),
                "rejected": statuses.count("rejected"),
                "batch_size": args.batch_size,
                "duckdb_threads": args.threads or "default",
                "ledger_build_s": round(built, 1),
                "publish_msgs_per_s": round(len(messages) / published),
                "end_to_end": e2e,
                "duckdb_only": local,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
