"""JetStream push consumers read as raw frames, for readers that go through a stream in bulk.

nats-py turns every delivered message into a ``Msg``: it parses every header into a dict,
decodes subject and reply, runs its ordered-consumer and flow-control bookkeeping and
queues the message through asyncio: ~40-60 µs a message, more than the projector spends
in DuckDB per event. The projector and the check stage read their streams front to back
and need none of it. ``FrameClient`` is nats-py's client with one addition: a message for
a *frame subscription* is kept as it came off the wire (subject, reply, payload, raw
header block) in that subscription's queue, and nothing else is done with it.

``FramePushConsumer`` creates the push consumer itself (ephemeral, no acks, flow control,
idle heartbeats: what nats-py's ordered consumer creates) and reads it from a frame
subscription:

- **Flow control.** The server sends a flow-control request after a window of messages
  and waits for the answer before sending more. The request is queued behind the messages
  that came before it and answered only when the reader has taken them, so the server
  holds back what the reader has not taken (the queue stays near one window). A heartbeat
  saying the consumer is stalled on a request is answered at once.
- **Order and loss.** Frames come in stream order. Whoever reads them checks the stream
  sequences (``Delivered.seq``) and calls ``start(seq)`` again on a jump it cannot explain,
  as nats-py's ordered consumer would do on a jump in the consumer sequence. The queue
  also has hard caps (messages, bytes): above them frames are dropped, which the reader
  sees as a jump. ``silent_for()`` tells how long nothing at all came, not even a
  heartbeat: a consumer the server no longer has.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from typing import NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.js import api

from streams.frame_parser import FrameParser

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
INACTIVE_THRESHOLD_S = 300.0  # the server deletes a consumer nobody reads for this long
_STATUS_AT = len(b"NATS/1.0")  # a space there starts an inline status ("NATS/1.0 100 ...")
_STALLED = b"Nats-Consumer-Stalled:"
NatsErrors = (nats.errors.Error, nats.js.errors.Error)
_LAST_STREAM = re.compile(rb"\r\nNats-Last-Stream:\s*(\d+)")
# A header line "Hive-<name>: <value>": a header name is printable ASCII without ':'.
_HIVE_HEADER = re.compile(rb"\r\n(Hive-[!-9;-~]*):[ \t]*([^\r\n]*)")


class Delivered(NamedTuple):
    """One delivered stream message."""

    seq: int  # stream sequence
    subject: str
    data: bytes
    headers: bytes | None  # the raw header block (``NATS/1.0\\r\\nName: value\\r\\n...``)
    published_ns: int  # the stream's storage timestamp, unix ns
    pending: int  # messages the consumer still had for us after this one


class _FlowControl(NamedTuple):
    reply: str


def delivery_fields(reply: bytes) -> tuple[int, int, int]:
    """(stream sequence, published unix ns, pending) from a delivery's reply subject:
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>`` (v1), or with
    domain and account hash after ``ACK`` (v2, 12 tokens or more)."""
    tokens = reply.split(b".")
    base = 2 if len(tokens) == 9 else 4
    return int(tokens[base + 3]), int(tokens[base + 5]), int(tokens[base + 6])


def pick_headers(raw: bytes | None) -> dict[str, str]:
    """The ``Hive-*`` headers of a raw header block, in one regex scan: ~2.5 µs, where
    parsing all of a stored message's headers costs ~15."""
    out: dict[str, str] = {}
    if raw:
        for name, value in _HIVE_HEADER.findall(raw):
            out[name.decode()] = value.strip().decode("utf-8", "replace")
    return out


class FrameQueue:
    """What a frame subscription received and its reader has not taken yet."""

    def __init__(self, max_msgs: int, max_bytes: int) -> None:
        self.items: deque[tuple[bytes, bytes, bytes, bytes | None] | _FlowControl] = deque()
        self.msgs = 0
        self.bytes = 0
        self.max_msgs = max_msgs  # 0: no count limit
        self.max_bytes = max_bytes
        self.dropped = 0
        self.last_activity = time.monotonic()
        self.arrived = asyncio.Event()
        self.answer_now: list[str] = []  # flow-control replies a stalled heartbeat asked for
        self.last_stream = 0  # the last stream sequence delivered, as a heartbeat says

    def receive(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.last_activity = time.monotonic()
        if headers and headers[_STATUS_AT : _STATUS_AT + 1] == b" ":
            self._status(reply, headers)
            return
        if (self.max_msgs and self.msgs >= self.max_msgs) or self.bytes >= self.max_bytes:
            self.dropped += 1  # the reader sees a jump in stream sequence and restarts
            return
        self.items.append((subject, reply, data, headers))
        self.msgs += 1
        self.bytes += len(data)
        self.arrived.set()

    def _status(self, reply: bytes, headers: bytes) -> None:
        code = headers[_STATUS_AT + 1 : _STATUS_AT + 4]
        if code != b"100":
            log.warning("push consumer status: %r", headers[:120])
            return
        if reply:  # a flow-control request: answered once what came before it is taken
            self.items.append(_FlowControl(reply.decode()))
            self.arrived.set()
            return
        last = _LAST_STREAM.search(headers)  # an idle heartbeat: what it had delivered
        if last:
            self.last_stream = int(last.group(1))
        at = headers.find(_STALLED)  # maybe stalled on a flow-control request
        if at >= 0:
            end = headers.find(b"\r\n", at)
            stalled = headers[at + len(_STALLED) : end if end >= 0 else None].strip()
            if stalled:
                self.answer_now.append(stalled.decode())
                self.arrived.set()


class FrameClient(Client):
    """nats-py's client; messages of frame subscriptions bypass its per-message work."""

    def __init__(self) -> None:
        super().__init__()
        self._frame_queues: dict[int, FrameQueue] = {}
        self._ps = FrameParser(self)

    async def subscribe_frames(
        self, subject: str, max_msgs: int = 0, max_bytes: int = 128 * 2**20
    ) -> tuple[Subscription, FrameQueue]:
        queue = FrameQueue(max_msgs, max_bytes)
        sub = await self.subscribe(subject)
        self._frame_queues[sub._id] = queue
        return sub, queue

    async def unsubscribe_frames(self, sub: Subscription) -> None:
        self._frame_queues.pop(sub._id, None)
        await sub.unsubscribe()

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        queue = self._frame_queues.get(sid)
        if queue is None:
            await super()._process_msg(sid, subject, reply, data, headers)
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        queue.receive(subject, reply, data, headers or None)


def server_url(nc: Client) -> str:
    """The URL ``nc`` is connected to, to open another connection to the same server."""
    url = nc.connected_url
    if url is None:
        raise ConnectionError("the nats connection is not connected")
    return url.geturl()


async def connect_frames(url: str, **options: object) -> FrameClient:
    """A FrameClient connected to ``url`` (options as for ``nats.connect``)."""
    nc = FrameClient()
    await nc.connect(url, **options)  # type: ignore[arg-type]
    return nc


class FramePushConsumer:
    """Messages of ``stream`` on ``filter_subject`` from a start sequence, as ``Delivered``."""

    def __init__(
        self,
        nc: FrameClient,
        stream: str,
        filter_subject: str,
        *,
        max_msgs: int = 0,
        max_bytes: int = 128 * 2**20,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        if not isinstance(nc, FrameClient):
            raise TypeError("FramePushConsumer needs a FrameClient (streams.push_frames)")
        self.nc = nc
        self.stream = stream
        self.filter_subject = filter_subject
        self.max_msgs = max_msgs
        self.max_bytes = max_bytes
        self.heartbeat_s = heartbeat_s
        self._sub: Subscription | None = None
        self._queue: FrameQueue | None = None
        self._consumer: str | None = None

    async def start(self, start_seq: int) -> None:
        """(Re)create the consumer at ``start_seq``; what was queued before is dropped."""
        await self.stop()
        whole_stream = await self._filter_is_whole_stream()
        inbox = self.nc.new_inbox()
        self._sub, self._queue = await self.nc.subscribe_frames(
            inbox, self.max_msgs, self.max_bytes
        )
        config = api.ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(start_seq, 1),
            filter_subject=None if whole_stream else self.filter_subject,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=self.heartbeat_s,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=INACTIVE_THRESHOLD_S,
        )
        try:
            info = await self.nc.jsm().add_consumer(self.stream, config, timeout=10)
        except BaseException:
            await self.stop()
            raise
        self._consumer = info.name

    async def _filter_is_whole_stream(self) -> bool:
        """True when the stream holds only the filter's subjects: the consumer then needs
        no filter, which spares the server a subject match per message (~3 µs of its CPU
        a message here, a third of what it spends delivering one)."""
        info = await self.nc.jsm().stream_info(self.stream)
        return list(info.config.subjects or []) == [self.filter_subject]

    @property
    def started(self) -> bool:
        """The server made the consumer, and it was not stopped since."""
        return self._consumer is not None

    @property
    def queued(self) -> int:
        return self._queue.msgs if self._queue is not None else 0

    @property
    def queued_bytes(self) -> int:
        return self._queue.bytes if self._queue is not None else 0

    @property
    def dropped(self) -> int:
        return self._queue.dropped if self._queue is not None else 0

    def silent_for(self) -> float:
        """Seconds since anything (a message, a heartbeat) last came from the consumer."""
        if self._queue is None:
            return 0.0
        return time.monotonic() - self._queue.last_activity

    def lost_since(self, expected: int) -> bool:
        """True when nothing is queued but a heartbeat said the consumer had delivered
        ``expected`` or later: frames were lost on the way (a reconnect, say). A lost last
        frame shows no jump in sequence; this shows it."""
        queue = self._queue
        return queue is not None and not queue.msgs and queue.last_stream >= expected > 0

    @property
    def stale(self) -> bool:
        """Nothing for three heartbeats: the server has no such consumer any more."""
        return self.silent_for() > 3 * self.heartbeat_s

    async def take(self, most: int, timeout: float) -> list[Delivered]:
        """Up to ``most`` messages; waits up to ``timeout`` for the first. Flow-control
        requests met on the way are answered."""
        queue = self._queue
        if queue is None:
            raise RuntimeError("the consumer is not started")
        if not queue.msgs:
            queue.arrived.clear()
            await self._answer(queue)
            if not queue.items:
                try:
                    await asyncio.wait_for(queue.arrived.wait(), timeout)
                except TimeoutError:
                    return []
        if queue is not self._queue:
            return []  # restarted meanwhile
        taken: list[Delivered] = []
        items = queue.items
        while items and len(taken) < most:
            item = items.popleft()
            if isinstance(item, _FlowControl):
                queue.answer_now.append(item.reply)
                continue
            subject, reply, data, headers = item
            queue.msgs -= 1
            queue.bytes -= len(data)
            seq, published_ns, pending = delivery_fields(reply)
            taken.append(Delivered(seq, subject.decode(), data, headers, published_ns, pending))
        while items and isinstance(items[0], _FlowControl):  # nothing left before it
            queue.answer_now.append(items.popleft().reply)
        await self._answer(queue)
        return taken

    async def _answer(self, queue: FrameQueue) -> None:
        while queue.answer_now:
            reply = queue.answer_now.pop(0)
            try:
                await self.nc.publish(reply, b"")
            except NatsErrors as err:
                log.warning("flow-control reply failed: %s", err)

    async def stop(self) -> None:
        sub, self._sub, self._queue = self._sub, None, None
        consumer, self._consumer = self._consumer, None
        if sub is not None:
            try:
                await self.nc.unsubscribe_frames(sub)
            except NatsErrors as err:
                log.warning("frame subscription unsubscribe failed: %s", err)
        if consumer is not None and not self.nc.is_closed:
            try:
                await self.nc.jsm().delete_consumer(self.stream, consumer)
            except NatsErrors as err:
                log.debug("consumer %s not deleted: %s", consumer, err)
