"""The real path, measured: a node in its own process (so it has its own GIL), envelopes
published to INTAKE as any integrator would, done when DuckDB has every decision."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats

from domain.errors import ErrorCode, LedgerError
from gateways.bench.cpu import CpuMeter, children
from gateways.bench.workload import Workload
from gateways.sdk.node_http import NodeHTTP
from streams.intake_bulk import publish_bulk
from streams.keystore import Keystore
from streams.server import free_port

PROGRESS_S = 1.0  # between the progress bar's counts
WAIT_S = 30.0  # each long poll for the last transaction


@dataclass
class EndToEnd:
    tx_per_s: float
    accepted: int
    rejected: int
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    node_metrics: dict[str, float]
    cpu_seconds: dict[str, float]


def start_node(
    home: Path, nats_url: str, treasury_words: str
) -> tuple[subprocess.Popen[bytes], str]:
    Keystore(home).create("treasury", treasury_words, "")
    port = free_port()
    env = {**os.environ, "HIVELEDGER_HOME": str(home), "HIVELEDGER_PASSWORD": ""}
    log = open(home / "node.log", "wb")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateways.cli.main",
            "node",
            "--dev",
            "--data",
            str(home / "data"),
            "--nats",
            nats_url,
            "--http",
            f"127.0.0.1:{port}",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    client = NodeHTTP(url, timeout=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (home / "node.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"node exited at start:\n{tail}")
        try:
            client.chain()
            return process, url
        except Exception:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("node did not come up within 60 s")


async def publish_all(
    nats_url: str, workload: Workload, progress: Callable[[int], None], intake: str
) -> None:
    """Publish every envelope to INTAKE: in atomic batches (``bulk``) or one
    ``publish_async`` each, with ``Nats-Msg-Id`` (``single``)."""
    nc = await nats.connect(nats_url, name="hiveledger-bench-client")
    try:
        if intake == "bulk":
            pairs = (("transfer", envelope) for envelope in workload.envelopes)
            await publish_bulk(nc, pairs, progress=progress)
            return
        js = nc.jetstream(publish_async_max_pending=4000)
        for i, (txid, envelope) in enumerate(zip(workload.txids, workload.envelopes, strict=True)):
            await js.publish_async(
                "hive.intake.transfer", envelope, headers={"Nats-Msg-Id": txid}, wait_stall=60
            )
            if i % 1000 == 999:
                progress(1000)
        await asyncio.wait_for(js.publish_async_completed(), 300)
        progress(workload.size % 1000)
    finally:
        await nc.close()


def wait_projected(
    node: NodeHTTP,
    last_txid: str,
    expected: int,
    timeout: float,
    progress: Callable[[int], None],
) -> float:
    """Wait until DuckDB has every decision; return when it had them (``perf_counter``).

    The last envelope published is the last in INTAKE, so its record is in the last
    LEDGER batch projected: the node answers ``GET /v1/tx/{last}?wait=1`` the moment that
    batch commits (no polling of the node's SQL, whose cost would come out of the cores
    being measured). A count every PROGRESS_S moves the progress bar and confirms at the
    end that every transaction is there."""
    deadline = time.monotonic() + timeout
    outcome: dict[str, Any] = {}
    waiter = threading.Thread(
        target=_wait_last, args=(node, last_txid, deadline, outcome), daemon=True
    )
    waiter.start()
    seen = 0
    counted_after_answer = False
    while True:
        if waiter.is_alive():
            waiter.join(PROGRESS_S)  # returns at once when the last transaction is projected
        elif counted_after_answer:
            time.sleep(PROGRESS_S)  # answered, yet decisions were missing: count on
        if "error" in outcome:
            raise outcome["error"]
        answered = "done" in outcome
        count = int(node.sql("SELECT count(*) FROM transactions")["rows"][0][0])
        if count > seen:
            progress(count - seen)
            seen = count
        if count >= expected:
            if answered and not counted_after_answer:
                return float(outcome["done"])  # every decision was there when it came
            return time.perf_counter()  # the later of the two, to be safe
        counted_after_answer = answered
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {seen} of {expected} transactions projected in {timeout}s")


def _wait_last(node: NodeHTTP, txid: str, deadline: float, outcome: dict[str, Any]) -> None:
    try:
        while time.monotonic() < deadline:
            try:
                node.transaction(txid, wait=WAIT_S)
            except LedgerError as error:
                if error.error_code is ErrorCode.TIMEOUT:
                    continue
                raise
            outcome["done"] = time.perf_counter()
            return
    except Exception as error:  # the main loop raises it
        outcome["error"] = error


def wait_ready(node: NodeHTTP, deadline: float) -> None:
    """Until the sequencer reads INTAKE: its process and its check stage's have started
    (imports, connections: about a second here), which is not what is measured."""
    while node_counters(node).get("hiveledger_sequencer_ready") != 1.0:
        if time.monotonic() > deadline:
            raise RuntimeError("the node's sequencer did not start reading INTAKE in time")
        time.sleep(0.1)


def node_counters(node: NodeHTTP) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(node.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("hiveledger_") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def run_end_to_end(
    home: Path,
    nats_url: str,
    nats_pid: int,
    treasury_words: str,
    workload: Workload,
    publish_progress: Callable[[int], None],
    project_progress: Callable[[int], None],
    intake: str = "bulk",
) -> EndToEnd:
    process, url = start_node(home, nats_url, treasury_words)
    node = NodeHTTP(url, timeout=30)
    pids = {"nats_server": nats_pid, "node_http_projector": process.pid}
    pids["bench_client"] = os.getpid()
    deadline = time.monotonic() + 10
    while "sequencer_check" not in pids and time.monotonic() < deadline:
        for pid in children(process.pid, "spawn_main"):  # the sequencer's process
            pids["sequencer"] = pid
            for check in children(pid, "spawn_main"):  # and its check stage's
                pids["sequencer_check"] = check
        time.sleep(0.1)
    wait_ready(node, deadline=time.monotonic() + 60)
    meter = CpuMeter(pids)
    try:
        meter.start()
        started = time.perf_counter()
        asyncio.run(publish_all(nats_url, workload, publish_progress, intake))
        done = wait_projected(
            node, workload.txids[-1], workload.size, timeout=1800, progress=project_progress
        )
        seconds = done - started
        cpu = meter.stop()
        lag50, lag99 = (
            float(x)
            for x in node.sql(
                "SELECT quantile_cont(epoch_ms(projected_at) - sequenced_at, [0.5, 0.99])[1], "
                "quantile_cont(epoch_ms(projected_at) - sequenced_at, [0.5, 0.99])[2] "
                "FROM transactions"
            )["rows"][0]
        )
        accepted, rejected = (
            int(x)
            for x in node.sql(
                "SELECT count(*) FILTER (status = 'accepted'), "
                "count(*) FILTER (status = 'rejected') FROM transactions"
            )["rows"][0]
        )
        return EndToEnd(
            tx_per_s=workload.size / seconds,
            accepted=accepted,
            rejected=rejected,
            seconds=seconds,
            lag_p50_ms=lag50,
            lag_p99_ms=lag99,
            node_metrics=node_counters(node),
            cpu_seconds=cpu,
        )
    finally:
        process.send_signal(2)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
