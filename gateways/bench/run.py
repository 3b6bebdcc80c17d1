"""hiveledger bench: every figure from one run, side by side, on the same envelopes."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateways.bench.baselines import eventsourcing_sqlite, raw_jetstream
from gateways.bench.end_to_end import EndToEnd, run_end_to_end
from gateways.bench.workload import Workload, make_workload
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
        # The baseline runs twice on the same first half of its share, once before the
        # node and once after: a machine whose speed drifts (shared cores) moves both
        # sides of the ratio alike, not just one.
        half = prefix(workload, max(baseline_n // 2, 1))
        baselines: list[Baseline] = []

        def baseline(when: str) -> None:
            task = progress.add_task(f"(b) eventsourcing + SQLite, {when}", total=half.size)
            path = base / f"baseline-{when}.sqlite"
            started = time.perf_counter()
            _, accepted = eventsourcing_sqlite(path, half, lambda k: progress.advance(task, k))
            baselines.append(Baseline(half.size, time.perf_counter() - started, accepted))

        baseline("before")
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
        baseline("after")
        bridge = bridge_cost_us()
    return _report(n, wallets, intake, e2e, raw, baselines, bridge)


@dataclass(frozen=True)
class Baseline:
    transfers: int
    seconds: float
    accepted: int

    @property
    def per_s(self) -> float:
        return self.transfers / self.seconds


def prefix(workload: Workload, count: int) -> Workload:
    """The first ``count`` envelopes: funding first, each signer's nonces in order, so any
    prefix is a workload of its own."""
    return replace(workload, envelopes=workload.envelopes[:count], txids=workload.txids[:count])


def _report(
    n: int, wallets: int, intake: str, e2e: EndToEnd, raw: float,
    baselines: list[Baseline], bridge: float,
) -> dict[str, Any]:  # fmt: skip
    """One JSON object with every figure of the run."""
    metrics = e2e.node_metrics
    sqlite_rate = sum(b.transfers for b in baselines) / sum(b.seconds for b in baselines)
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
        "baseline_n": sum(b.transfers for b in baselines),
        "baseline_accepted": sum(b.accepted for b in baselines),
        "eventsourcing_sqlite_before_after_per_s": [round(b.per_s, 1) for b in baselines],
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
