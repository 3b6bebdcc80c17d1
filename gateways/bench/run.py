"""hiveledger bench: every figure from one run, side by side, on the same envelopes."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateways.bench.baselines import eventsourcing_sqlite, raw_jetstream
from gateways.bench.end_to_end import EndToEnd, run_end_to_end
from gateways.bench.workload import make_workload
from streams.keys import Keypair
from streams.loop_thread import LoopThread
from streams.server import EmbeddedNatsServer, binary_version, find_binary

BRIDGE_CALLS = 20_000


def bridge_cost_us() -> float:
    """What one synchronous call into the asyncio loop thread costs (the recorder's bridge)."""

    async def nothing() -> None:
        return None

    with LoopThread(name="bench-bridge") as loop:
        started = time.perf_counter()
        for _ in range(BRIDGE_CALLS):
            loop.run(nothing(), 5.0)
        return (time.perf_counter() - started) / BRIDGE_CALLS * 1e6


def run_bench(
    n: int, wallets: int, baseline_n: int | None, quiet: bool, intake: str = "bulk"
) -> dict[str, Any]:
    baseline_n = min(baseline_n or n, n)
    progress = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    )
    with tempfile.TemporaryDirectory(prefix="hiveledger-bench-") as tmp, progress:
        base = Path(tmp)
        treasury, words = Keypair.generate()
        task = progress.add_task("signing envelopes", total=n)
        workload = make_workload(
            n, wallets, "hive-dev", treasury, progress=lambda k: progress.advance(task, k)
        )
        with EmbeddedNatsServer(base / "nats") as server:
            task = progress.add_task("(a) raw JetStream publish_async", total=n)
            raw = asyncio.run(
                raw_jetstream(server.url, workload, lambda k: progress.advance(task, k))
            )
            home = base / "node"
            home.mkdir()
            publish = progress.add_task("hiveledger: publish to INTAKE", total=n)
            project = progress.add_task("hiveledger: decided and projected", total=n)
            e2e = run_end_to_end(
                home,
                server.url,
                server.process.pid,
                words,
                workload,
                lambda k: progress.advance(publish, k),
                lambda k: progress.advance(project, k),
                intake,
            )
        sub = (
            workload
            if baseline_n == n
            else make_workload(baseline_n, min(wallets, baseline_n), "hive-dev", treasury)
        )
        task = progress.add_task("(b) eventsourcing + SQLite", total=baseline_n)
        sqlite_rate, sqlite_accepted = eventsourcing_sqlite(
            base / "baseline.sqlite", sub, lambda k: progress.advance(task, k)
        )
        bridge = bridge_cost_us()
    return _report(n, wallets, baseline_n, intake, e2e, raw, sqlite_rate, sqlite_accepted, bridge)


def _report(
    n: int, wallets: int, baseline_n: int, intake: str, e2e: EndToEnd, raw: float,
    sqlite_rate: float, sqlite_accepted: int, bridge: float,
) -> dict[str, Any]:  # fmt: skip
    """One JSON object with every figure of the run."""
    metrics = e2e.node_metrics
    return {
        "n": n,
        "wallets": wallets,
        "tx_per_s": round(e2e.tx_per_s, 1),
        "raw_jetstream_per_s": round(raw, 1),
        "eventsourcing_sqlite_per_s": round(sqlite_rate, 1),
        "ratio_vs_eventsourcing_sqlite": round(e2e.tx_per_s / sqlite_rate, 2),
        "ratio_vs_raw_jetstream": round(e2e.tx_per_s / raw, 3),
        "lag_p50_ms": round(e2e.lag_p50_ms, 1),
        "lag_p99_ms": round(e2e.lag_p99_ms, 1),
        "seconds": round(e2e.seconds, 2),
        "accepted": e2e.accepted,
        "rejected": e2e.rejected,
        "baseline_n": baseline_n,
        "baseline_accepted": sqlite_accepted,
        "bridge_call_us": round(bridge, 1),
        "sequencer_batches": int(metrics.get("hiveledger_sequencer_batches_total", 0)),
        "sequencer_retries": int(metrics.get("hiveledger_sequencer_retries_total", 0)),
        "sequencer_seconds": {
            stage: round(metrics.get(f"hiveledger_sequencer_{stage}_seconds_total", 0.0), 2)
            for stage in ("check", "execute", "record", "wait")
        },
        "intake": intake,
        "cpu_seconds": e2e.cpu_seconds,
        "sync_interval": "always",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "nats_server": ".".join(map(str, binary_version(find_binary()))),
        },
    }
