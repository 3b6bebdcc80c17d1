"""Read the LEDGER from a position: a push consumer read as raw frames, in batches.

streams/push_frames.py holds the consumer: ephemeral, flow-controlled, no acks, its
messages kept as they came off the wire (nats-py's per-message work, ~40-60 µs, was more
than the projector's DuckDB work per event). Flow control is answered only as the reader
takes messages, so the server holds back what the reader has not taken: the queue stays
around one flow-control window (measured: 13-26 MB with a reader at 5k msgs/s, whatever
the stream's size).

The queue also has hard caps (128 MB, and a message count if asked), above which
messages are dropped. So the feed checks stream sequences itself; on a jump it asks the
stream (STREAM.MSG.GET, next by subject) whether anything lies in between: if not, the
gap is real (messages on other subjects); if so, it restarts the consumer at the first
missing one. A drop at the tail shows no jump, so when nothing comes, it asks the stream
whether something should have: twice at the same position, and it restarts too.

Of a message's headers the feed keeps the ``Hive-*`` ones, all the projections read.
"""

from __future__ import annotations

import asyncio
import logging

import nats.js.errors

from projections.records import RawMsg
from streams.push_frames import (
    Delivered,
    FrameClient,
    FramePushConsumer,
    NatsErrors,
    pick_headers,
)

log = logging.getLogger(__name__)

RESTART_RETRY_S = 1.0  # between attempts to start a consumer after one failed


def raw_of(msg: Delivered) -> RawMsg:
    return RawMsg(msg.seq, msg.subject, pick_headers(msg.headers), msg.data, msg.published_ns)


class LedgerFeed:
    """Messages of ``stream`` on ``<prefix>.>`` from ``start_seq`` on, in order, each once."""

    def __init__(
        self,
        nc: FrameClient,
        stream: str,
        prefix: str,
        start_seq: int,
        *,
        max_queue_bytes: int = 128 * 1024 * 1024,
        max_queue: int = 0,
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.filter = f"{prefix}.>"
        self.expected = max(start_seq, 1)
        self.pending = 0  # messages the server still held for us after the last one taken
        self.restarts = 0
        self._idle_since_seq = 0  # ``expected`` when an idle check last found messages
        self._closed = False
        self._consumer = FramePushConsumer(
            nc, stream, self.filter, max_msgs=max_queue, max_bytes=max_queue_bytes
        )

    async def start(self) -> None:
        await self._subscribe()

    async def _subscribe(self) -> None:
        await self._consumer.start(self.expected)
        log.info(
            "ledger feed reading %s on %s from seq %d",
            self.stream,
            self.filter,
            self.expected,
            extra={"stream": self.stream, "filter": self.filter, "start_seq": self.expected},
        )

    async def take(self, max_messages: int, timeout: float) -> list[RawMsg]:
        """Up to ``max_messages`` messages in order; waits at most ``timeout`` for the first.

        May return fewer (even none) after repairing a gap; just call again.
        """
        if self._closed:
            return []
        if not self._consumer.started:  # a restart failed (a server coming back, say): again
            await asyncio.sleep(min(timeout, RESTART_RETRY_S))
            await self._restart()
            if not self._consumer.started:
                return []
        msgs = await self._consumer.take(max_messages, timeout)
        if self._closed:
            return []
        if not msgs:
            await self._check_idle()
            return []
        self._idle_since_seq = 0
        taken: list[RawMsg] = []
        for msg in msgs:
            if msg.seq < self.expected:
                continue  # delivered again after a restart
            if msg.seq > self.expected and not await self._real_gap(msg.seq):
                await self._restart()
                break
            self.expected = msg.seq + 1
            self.pending = msg.pending
            taken.append(raw_of(msg))
        return taken

    async def _next_stored(self) -> int | None:
        """The stream sequence of the next stored message on our subjects, None if none."""
        found = await self.nc.jsm().get_msg(
            self.stream, seq=self.expected, subject=self.filter, next=True
        )
        return found.seq

    async def _real_gap(self, seq: int) -> bool:
        """True when no message on our subjects lies between ``expected`` and ``seq``."""
        try:
            found = await self._next_stored()
        except NatsErrors as err:
            log.warning("gap check failed: %s", err, extra={"expected": self.expected})
            return False
        real = found is not None and found >= seq
        log.log(
            logging.INFO if real else logging.WARNING,
            "ledger feed: seq %d after %d; %s",
            seq,
            self.expected - 1,
            "nothing of ours between" if real else "messages were dropped, restarting",
            extra={"expected": self.expected, "received": seq, "real_gap": real},
        )
        return real

    async def _check_idle(self) -> None:
        """Nothing came: fine if the stream has nothing more for us. If it has, twice in a
        row at the same position, the messages were lost on the way (dropped at the tail
        of the queue, or a consumer gone): restart."""
        try:
            found = await self._next_stored()
        except nats.js.errors.NotFoundError:
            self._idle_since_seq = 0
            if self._consumer.stale:  # nothing to read, but no heartbeats either
                await self._restart()
            return
        except NatsErrors as err:
            log.warning("idle check failed: %s", err, extra={"expected": self.expected})
            return
        if found is None:
            return
        if self._idle_since_seq != self.expected:
            self._idle_since_seq = self.expected
            return
        log.warning(
            "ledger feed: seq %d is stored but was not delivered; restarting",
            found,
            extra={"expected": self.expected, "stored": found},
        )
        self._idle_since_seq = 0
        await self._restart()

    async def _restart(self) -> None:
        """A new consumer at ``expected``; if the server cannot make one now, the next
        ``take`` tries again (the runner must not stop for a server that is restarting)."""
        self.restarts += 1
        if self._closed:
            return
        try:
            await self._subscribe()
        except (*NatsErrors, TimeoutError, OSError) as err:
            log.warning(
                "ledger feed: no consumer at seq %d yet (%s: %s); trying again",
                self.expected,
                type(err).__name__,
                err,
                extra={"expected": self.expected},
            )

    @property
    def queued(self) -> int:
        """Messages received from the server and not yet taken."""
        return self._consumer.queued

    @property
    def queued_bytes(self) -> int:
        """Payload bytes received from the server and not yet taken."""
        return self._consumer.queued_bytes

    async def stop(self) -> None:
        self._closed = True
        await self._consumer.stop()
