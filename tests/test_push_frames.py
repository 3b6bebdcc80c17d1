"""Push consumers read as raw frames (streams/push_frames.py): what the projector's feed and
the check stage's INTAKE reader stand on. Order, bounds and gap repair are tested through
the feed (tests/test_projections_feed.py); here the frames themselves, and consumers the
server lost."""

from __future__ import annotations

import asyncio
import uuid

from nats.js.api import StreamConfig

from projections.feed import LedgerFeed
from streams.intake_reader import IntakeReader
from streams.push_frames import (
    Delivered,
    FrameClient,
    FramePushConsumer,
    connect_frames,
    delivery_fields,
    pick_headers,
)
from streams.server import EmbeddedNatsServer


def test_pick_headers_keeps_the_hive_headers_as_sent() -> None:
    raw = (
        b"NATS/1.0\r\nHive-Topic: domain.wallet:Wallet.Credited\r\nNats-Batch-Id: abc\r\n"
        b'Hive-Commit: {"prev": "00", "time": 1}\r\nHive-Version:7\r\n\r\n'
    )
    assert pick_headers(raw) == {
        "Hive-Topic": "domain.wallet:Wallet.Credited",
        "Hive-Commit": '{"prev": "00", "time": 1}',
        "Hive-Version": "7",
    }
    assert pick_headers(None) == {} and pick_headers(b"NATS/1.0\r\n\r\n") == {}


def test_delivery_fields_read_both_reply_layouts() -> None:
    v1 = b"$JS.ACK.LEDGER.c1.1.42.40.1700000000123456789.7"
    v2 = b"$JS.ACK.domain.acchash.LEDGER.c1.1.42.40.1700000000123456789.7.tok"
    assert delivery_fields(v1) == (42, 1700000000123456789, 7)
    assert delivery_fields(v2) == (42, 1700000000123456789, 7)


async def read_from(consumer: FramePushConsumer, start_seq: int, count: int) -> list[Delivered]:
    """Start ``consumer`` at ``start_seq``, take ``count`` messages, stop it."""
    await consumer.start(start_seq)
    got = await consumer.take(10, timeout=5)
    while len(got) < count:
        got += await consumer.take(10, timeout=5)
    await consumer.stop()
    return got


async def test_frames_carry_sequence_subject_data_and_headers(
    nats_server: EmbeddedNatsServer,
) -> None:
    nc = await connect_frames(nats_server.url)
    stream = f"FR_{uuid.uuid4().hex[:8]}"
    await nc.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    for i in range(5):
        await nc.jetstream().publish(f"{stream}.s{i}", b"d%d" % i, headers={"Hive-I": str(i)})
    got = await read_from(FramePushConsumer(nc, stream, f"{stream}.>"), 3, count=3)
    await nc.close()
    assert [(m.seq, m.subject, m.data, m.pending) for m in got] == [
        (3, f"{stream}.s2", b"d2", 2),
        (4, f"{stream}.s3", b"d3", 1),
        (5, f"{stream}.s4", b"d4", 0),
    ]
    assert pick_headers(got[0].headers) == {"Hive-I": "2"} and got[0].published_ns > 0


async def test_a_filter_narrower_than_the_stream_is_kept(nats_server: EmbeddedNatsServer) -> None:
    """The consumer goes without a filter only when the stream holds nothing else."""
    nc = await connect_frames(nats_server.url)
    stream = f"FR_{uuid.uuid4().hex[:8]}"
    await nc.jetstream().add_stream(
        StreamConfig(name=stream, subjects=[f"{stream}.a.>", f"{stream}.b.>"])
    )
    for i in range(6):
        await nc.jetstream().publish(f"{stream}.{'ab'[i % 2]}.k", b"%d" % i)
    got = await read_from(FramePushConsumer(nc, stream, f"{stream}.a.>"), 1, count=3)
    await nc.close()
    assert [(m.seq, m.subject) for m in got] == [(1, f"{stream}.a.k"), (3, f"{stream}.a.k"),
                                                 (5, f"{stream}.a.k")]  # fmt: skip


async def feed_past_one_message(
    server: EmbeddedNatsServer,
) -> tuple[FrameClient, str, LedgerFeed]:
    """A stream of its own with one message, and a started feed that has read it."""
    nc = await connect_frames(server.url)
    stream = f"FR_{uuid.uuid4().hex[:8]}"
    await nc.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    await nc.jetstream().publish(f"{stream}.a", b"1")
    feed = LedgerFeed(nc, stream, stream, 1)
    await feed.start()
    assert [m.seq for m in await feed.take(10, timeout=5)] == [1]
    return nc, stream, feed


async def test_the_feed_replaces_a_consumer_the_server_lost(
    nats_server: EmbeddedNatsServer,
) -> None:
    nc, stream, feed = await feed_past_one_message(nats_server)
    js = nc.jetstream()
    for info in await nc.jsm().consumers_info(stream):
        await nc.jsm().delete_consumer(stream, info.name)
    for i in range(3):
        await js.publish(f"{stream}.a", str(i).encode())
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + 20
    while len(got) < 3 and asyncio.get_running_loop().time() < deadline:
        got += [m.seq for m in await feed.take(10, timeout=0.3)]
    await feed.stop()
    await nc.close()
    assert got == [2, 3, 4] and feed.restarts >= 1


def reader_past_one_message(server: EmbeddedNatsServer) -> tuple[IntakeReader, str, str]:
    """An INTAKE-like stream of its own with one message, and a reader (heartbeats every
    0.5 s) that has read it; returns the reader, the stream and its subject."""
    stream = f"IN{uuid.uuid4().hex[:6].upper()}"
    subject = f"{stream}.intake.transfer"

    async def setup() -> None:
        nc = await connect_frames(server.url)
        await nc.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{stream}.intake.>"]))
        await nc.jetstream().publish(subject, b"first")
        await nc.close()

    asyncio.run(setup())
    reader = IntakeReader(server.url, stream=stream, prefix=f"{stream}.intake", heartbeat_s=0.5)
    assert [m.data for m in reader.fetch(1, 10, timeout=5)] == [b"first"]
    return reader, stream, subject


def test_the_intake_reader_replaces_a_silent_consumer(nats_server: EmbeddedNatsServer) -> None:
    reader, stream, subject = reader_past_one_message(nats_server)
    try:

        async def lose_consumer() -> None:
            nc = reader.nc
            for info in await nc.jsm().consumers_info(stream):
                await nc.jsm().delete_consumer(stream, info.name)
            await nc.jetstream().publish(subject, b"second")

        reader.loop.run(lose_consumer(), 10)
        got: list[bytes] = []
        for _ in range(20):
            got += [m.data for m in reader.fetch(2 + len(got), 10, timeout=0.5)]
            if got:
                break
        assert got == [b"second"] and reader.restarts >= 2
    finally:
        reader.close()


def test_the_intake_reader_reads_again_a_last_message_lost_on_the_way(
    nats_server: EmbeddedNatsServer,
) -> None:
    """A lost last frame shows no jump in sequence; the heartbeat's last delivered stream
    sequence shows it, and the reader starts a new consumer there."""
    reader, _, subject = reader_past_one_message(nats_server)
    try:
        queue = reader._consumer._queue
        assert queue is not None
        receive, dropped = queue.receive, []

        def drop_the_next(subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
            if data and not dropped:
                dropped.append(data)
                return
            receive(subject, reply, data, headers)

        queue.receive = drop_the_next  # type: ignore[method-assign]
        reader.loop.run(reader.nc.jetstream().publish(subject, b"second"), 10)
        got: list[bytes] = []
        for _ in range(20):
            got += [m.data for m in reader.fetch(2, 10, timeout=0.5)]
            if got:
                break
        assert dropped == [b"second"] and got == [b"second"] and reader.restarts >= 2
    finally:
        reader.close()


async def test_a_feed_whose_restart_fails_tries_again(nats_server: EmbeddedNatsServer) -> None:
    """A server that cannot make a consumer for a while (one coming back after a restart)
    does not stop the projector's feed: the next take tries again."""
    nc, stream, feed = await feed_past_one_message(nats_server)
    js = nc.jetstream()
    start, failures = feed._consumer.start, []

    async def refuse_once(start_seq: int) -> None:
        if not failures:
            failures.append(start_seq)
            raise TimeoutError("JetStream API timed out")
        await start(start_seq)

    feed._consumer.start = refuse_once  # type: ignore[method-assign]
    await feed._restart()  # as after a gap: fails, and is tried again by take
    await js.publish(f"{stream}.a", b"2")
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + 20
    while not got and asyncio.get_running_loop().time() < deadline:
        got += [m.seq for m in await feed.take(10, timeout=0.3)]
    await feed.stop()
    await nc.close()
    assert failures == [2] and got == [2]
