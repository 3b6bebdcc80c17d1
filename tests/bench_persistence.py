"""Measure the JetStream persistence module on an embedded nats-server (fsync always).

    .venv/bin/python tests/bench_persistence.py

Not collected by pytest (no ``test_`` prefix). Prints medians; the machines are shared and
noisy, so trust ratios more than absolute figures.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from eventsourcing.persistence import StoredEvent, Tracking

from streams.jetstream import ensure_stream, publish_atomic_batch
from streams.loop_thread import LoopThread
from streams.persistence import Factory
from streams.server import EmbeddedNatsServer

TOPIC = "domain.wallet:Wallet.Credited"
STATE = b'{"amount":1000000000,"timestamp":"2026-11-22T14:00:00+00:00","tx":"' + b"a" * 64 + b'"}'


def median_ms(fn: Callable[[int], object], runs: int, warm: int = 3) -> float:
    times = []
    for i in range(warm + runs):
        started = time.perf_counter()
        fn(i)
        if i >= warm:
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def bench_bridge() -> None:
    loop = LoopThread(name="bench")

    async def noop() -> None:
        return None

    n = 5000
    for _ in range(200):
        loop.run(noop(), 1)
    started = time.perf_counter()
    for _ in range(n):
        loop.run(noop(), 1)
    print(f"LoopThread.run(noop): {(time.perf_counter() - started) / n * 1e6:.0f} µs per call")
    loop.close()


def bench_recorder(url: str) -> None:
    factory = Factory({Factory.NATS_URL: url})
    recorder = factory.process_recorder()
    ds = factory.datastore()

    def batch_600(i: int) -> None:
        events = [StoredEvent(f"wallet.b{i}x{j}", 1, TOPIC, STATE) for j in range(599)]
        recorder.insert_events(events, tracking=Tracking("INTAKE", i + 1))

    def grow_600(i: int) -> None:  # the same 599 aggregates, cached, one event each
        events = [StoredEvent(f"wallet.g{j}", i + 1, TOPIC, STATE) for j in range(599)]
        recorder.insert_events(events, tracking=Tracking("INTAKE", 10_000 + i))

    def one(i: int) -> None:
        recorder.insert_events([StoredEvent(f"wallet.one{i}", 1, TOPIC, STATE)])

    print(f"insert_events, 599 new aggregates + tracking: {median_ms(batch_600, 20):.1f} ms")
    print(f"insert_events, 599 cached aggregates + tracking: {median_ms(grow_600, 20):.1f} ms")
    print(f"insert_events, one event: {median_ms(one, 200):.2f} ms")

    async def raw(i: int) -> None:
        subjects = [f"hive.raw.b{i}x{j}" for j in range(600)]
        headers = {"Hive-Topic": TOPIC, "Hive-Version": "1"}
        await publish_atomic_batch(ds.nc, [(s, STATE, headers) for s in subjects], 10)

    ds.run(ensure_stream(ds.nc, {"name": "RAW", "subjects": ["hive.raw.>"], "allow_atomic": True}))
    print(
        "publish_atomic_batch alone, 600 messages (server + wire): "
        f"{median_ms(lambda i: ds.run(raw(i)), 20):.1f} ms"
    )
    read = median_ms(lambda i: recorder.select_notifications(1, 1000), 20)
    print(f"select_notifications(limit=1000): {read:.1f} ms")
    total = recorder.max_notification_id() or 0
    started = time.perf_counter()
    with recorder.subscribe(gt=0) as subscription:
        for count, _ in enumerate(subscription, 1):
            if count >= 10_000:
                break
    rate = 10_000 / (time.perf_counter() - started)
    print(f"subscribe(): {rate:,.0f} notifications/s (of {total} stored)")
    factory.close()


def main() -> None:
    bench_bridge()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNatsServer(Path(tmp)) as server:
        bench_recorder(server.url)


if __name__ == "__main__":
    main()
