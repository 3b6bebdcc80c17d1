"""The LEDGER feed: ordered, gap-free where the stream is, bounded where the reader is slow."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from projections.feed import LedgerFeed
from projections.records import RawMsg
from streams.jetstream import ensure_ledger_stream, publish_atomic_batch
from streams.push_frames import connect_frames
from streams.server import EmbeddedNatsServer


@pytest.fixture
async def nc(nats_server: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    errors: list[Exception] = []

    async def on_error(err: Exception) -> None:
        errors.append(err)  # slow-consumer drops are expected in one test

    client = await connect_frames(nats_server.url, error_cb=on_error)
    yield client
    await client.close()


async def make_stream(nc: NATS, *subjects: str) -> str:
    name = f"FEED_{uuid.uuid4().hex[:10]}"
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=list(subjects)))
    return name


async def take_all(feed: LedgerFeed, count: int, pause: float = 0.0) -> list[RawMsg]:
    got: list[RawMsg] = []
    deadline = asyncio.get_running_loop().time() + 30
    while len(got) < count:
        assert asyncio.get_running_loop().time() < deadline, f"stalled at {len(got)} of {count}"
        got.extend(await feed.take(7, timeout=0.2))  # empty after a repaired gap
        await asyncio.sleep(pause)
    return got


async def test_reads_in_order_from_a_start_sequence(nc: NATS) -> None:
    tag = uuid.uuid4().hex[:8]
    stream = await make_stream(nc, f"f{tag}.>")
    js = nc.jetstream()
    for i in range(50):
        await js.publish(
            f"f{tag}.wallet.a{i % 3}", str(i).encode(), headers={"Hive-N": str(i), "Other": "x"}
        )
    feed = LedgerFeed(nc, stream, f"f{tag}", 11, max_queue=100)
    await feed.start()
    got = await take_all(feed, 40)
    await feed.stop()
    assert [m.seq for m in got] == list(range(11, 51))
    assert got[0].data == b"10" and got[0].headers == {"Hive-N": "10"} and got[0].published_ns > 0


async def test_a_real_gap_is_crossed_once(nc: NATS) -> None:
    """Messages on subjects outside the feed's filter leave gaps that are really empty."""
    tag = uuid.uuid4().hex[:8]
    stream = await make_stream(nc, f"f{tag}.>", f"o{tag}.>")
    js = nc.jetstream()
    for i in range(30):
        subject = f"o{tag}.x" if i % 10 == 5 else f"f{tag}.wallet.a"
        await js.publish(subject, str(i).encode())
    feed = LedgerFeed(nc, stream, f"f{tag}", 1, max_queue=100)
    await feed.start()
    got = await take_all(feed, 27)
    await asyncio.sleep(0.3)
    assert await feed.take(10, timeout=0.2) == []  # nothing repeated after the gaps
    await feed.stop()
    assert [m.seq for m in got] == [s for s in range(1, 31) if s % 10 != 6]


async def test_a_slow_reader_stays_bounded_and_loses_nothing(nc: NATS) -> None:
    """A tiny buffer and a reader slower than the server: the queue drops what is over its
    cap; the feed notices the hole, restarts the consumer, and delivers every message."""
    tag = uuid.uuid4().hex[:8]
    stream = await make_stream(nc, f"f{tag}.>")
    js = nc.jetstream()
    payload = b"x" * 300
    for _ in range(6):
        await asyncio.gather(*(js.publish(f"f{tag}.wallet.a", payload) for _i in range(100)))
    feed = LedgerFeed(nc, stream, f"f{tag}", 1, max_queue=50)
    await feed.start()
    got = await take_all(feed, 600, pause=0.001)
    await feed.stop()
    assert [m.seq for m in got] == list(range(1, 601))
    assert feed.restarts > 0  # the drop path was taken


async def test_flow_control_bounds_the_queue_of_a_slow_reader(nc: NATS) -> None:
    """Flow control is answered as the reader takes, so the server holds back what the
    reader has not taken: a 40 MB stream, a reader at ~5k msgs/s for 3 s
    (unbounded, the queue would hold the whole stream by then), the queue stays near one
    flow-control window."""
    tag = uuid.uuid4().hex[:8]
    stream = f"FEED_{tag}"
    await ensure_ledger_stream(nc, stream, f"f{tag}")
    for _ in range(40):
        batch = [(f"f{tag}.wallet.a", b"y" * 1000, {}) for _ in range(1000)]
        await publish_atomic_batch(nc, batch, timeout=30)
    feed = LedgerFeed(nc, stream, f"f{tag}", 1)
    await feed.start()
    loop = asyncio.get_running_loop()
    until, most = loop.time() + 3, 0
    while loop.time() < until:
        await feed.take(50, timeout=5)
        most = max(most, feed.queued_bytes)
        await asyncio.sleep(0.01)
    await feed.stop()
    assert feed.restarts == 0
    assert most < 35 * 2**20, most
