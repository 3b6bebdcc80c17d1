"""Read the LEDGER from a position: an ordered push consumer into a bounded buffer.

An ordered consumer (ephemeral, flow-controlled, no acks) delivers in stream order and
recreates itself on a gap it can see. One gap it cannot see: nats-py drops a message when
a subscription's pending queue is full (slow consumer) after it has moved its own
sequence past it. So the feed checks stream sequences itself, and on a jump asks the
stream (STREAM.MSG.GET, next by subject) whether anything lies in between: if not, the
gap is real (deleted or foreign messages); if so, it resubscribes from the missing one.

The callback blocks while the buffer is full, which delays nats-py's flow-control replies
and so throttles the server: memory stays bounded by ``max_buffer`` plus one window.
"""

from __future__ import annotations

import asyncio
import collections
import logging

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from projections.records import RawMsg

log = logging.getLogger(__name__)


def raw_of(msg: Msg) -> tuple[RawMsg, int]:
    """The message and the consumer's pending count, from its JetStream reply subject.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>`` (v1), or with
    domain and account hash after ``ACK`` (v2, 12 tokens or more).
    """
    tokens = msg.reply.split(".")
    base = 2 if len(tokens) == 9 else 4
    seq = int(tokens[base + 3])
    published_ns = int(tokens[base + 5])
    pending = int(tokens[base + 6])
    return RawMsg(seq, msg.subject, msg.headers, msg.data, published_ns), pending


class LedgerFeed:
    """Messages of ``stream`` on ``<prefix>.>`` from ``start_seq`` on, in order."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        prefix: str,
        start_seq: int,
        *,
        max_buffer: int = 20_000,
    ) -> None:
        self.js = js
        self.stream = stream
        self.filter = f"{prefix}.>"
        self.max_buffer = max_buffer
        self.expected = max(start_seq, 1)
        self.pending = 0  # messages the server still holds for us after the last received
        self._buffer: collections.deque[RawMsg] = collections.deque()
        self._data = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._sub: JetStreamContext.PushSubscription | None = None
        self._resubscribe: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        await self._subscribe(self.expected)

    async def _subscribe(self, seq: int) -> None:
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq
        )
        self._sub = await self.js.subscribe(
            self.filter,
            stream=self.stream,
            cb=self._on_msg,
            ordered_consumer=True,
            config=config,
            pending_msgs_limit=4 * self.max_buffer,
            pending_bytes_limit=512 * 1024 * 1024,
        )
        log.info(
            "ledger feed subscribed",
            extra={"stream": self.stream, "filter": self.filter, "start_seq": seq},
        )

    async def _on_msg(self, msg: Msg) -> None:
        if self._closed or self._resubscribe is not None:
            return
        raw, pending = raw_of(msg)
        if raw.seq < self.expected:
            return  # redelivered after the consumer was recreated
        if raw.seq > self.expected and not await self._real_gap(raw.seq):
            self._resubscribe = asyncio.create_task(self._restart(self.expected))
            return
        self.expected = raw.seq + 1
        self.pending = pending
        self._buffer.append(raw)
        self._data.set()
        if len(self._buffer) >= self.max_buffer:
            self._space.clear()
            await self._space.wait()

    async def _real_gap(self, seq: int) -> bool:
        """True when no message on our subjects lies between ``expected`` and ``seq``."""
        try:
            found = await self.js._jsm.get_msg(
                self.stream, seq=self.expected, subject=self.filter, next=True
            )
        except (nats.errors.Error, nats.js.errors.Error) as err:
            log.warning("gap check failed, resubscribing", extra={"error": str(err)})
            return False
        real = found.seq is not None and found.seq >= seq
        log.warning(
            "ledger sequence gap",
            extra={"expected": self.expected, "received": seq, "real": real},
        )
        return real

    async def _restart(self, seq: int) -> None:
        if self._sub is not None:
            await self._unsubscribe()
        if not self._closed:
            await self._subscribe(seq)
        self._resubscribe = None

    async def take(self, max_messages: int, timeout: float) -> list[RawMsg]:
        """Up to ``max_messages`` buffered messages; waits at most ``timeout`` for one."""
        if not self._buffer:
            self._data.clear()
            try:
                await asyncio.wait_for(self._data.wait(), timeout)
            except TimeoutError:
                return []
        buffer = self._buffer
        count = min(max_messages, len(buffer))
        taken = [buffer.popleft() for _ in range(count)]
        if len(buffer) < self.max_buffer // 2:
            self._space.set()
        return taken

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except (nats.errors.Error, nats.js.errors.Error) as err:
            log.warning("ledger feed unsubscribe failed", extra={"error": str(err)})

    async def stop(self) -> None:
        self._closed = True
        self._space.set()
        if self._resubscribe is not None:
            await asyncio.gather(self._resubscribe, return_exceptions=True)
        await self._unsubscribe()
        self._buffer.clear()
