"""Read the LEDGER from a position: an ordered push consumer, drained in batches.

An ordered consumer (ephemeral, flow-controlled, no acks) delivers in stream order and
recreates itself from its last stream sequence when it sees a gap. The subscription has
no callback: the reader drains nats-py's pending queue itself (``take_pending``), so
nats-py answers the server's flow-control requests only as the reader consumes, and the
server holds back what the reader has not taken: the queue stays around one flow-control
window (measured: 13-26 MB with a reader at 5k msgs/s, whatever the stream's size). With a
callback, nats-py would answer on receipt, and a slow reader would queue without limit.

The queue also has a hard cap (128 MB by default), above which nats-py drops messages as a
slow consumer after moving its own sequence past them: a gap it does not repair. So the
feed checks stream sequences itself; on a jump it asks the stream (STREAM.MSG.GET, next
by subject) whether anything lies in between: if not, the gap is real (messages on other
subjects); if so, it resubscribes from the first missing one and reads only from the new
subscription. A drop at the tail shows no jump, so when nothing comes, it asks the stream
whether something should have: twice at the same position, and it resubscribes too.
"""

from __future__ import annotations

import logging

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from projections.records import RawMsg
from streams.jetstream_reads import delivery_info, take_pending

log = logging.getLogger(__name__)

NatsErrors = (nats.errors.Error, nats.js.errors.Error)


def raw_of(msg: Msg) -> tuple[RawMsg, int]:
    """The message and the consumer's pending count, from its JetStream reply subject."""
    seq, published_ns, pending = delivery_info(msg.reply)
    return RawMsg(seq, msg.subject, msg.headers, msg.data, published_ns), pending


class LedgerFeed:
    """Messages of ``stream`` on ``<prefix>.>`` from ``start_seq`` on, in order, each once."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        prefix: str,
        start_seq: int,
        *,
        max_queue_bytes: int = 128 * 1024 * 1024,
        max_queue: int = 0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.filter = f"{prefix}.>"
        self.max_queue_bytes = max_queue_bytes
        self.max_queue = max_queue  # messages; 0: no count limit, only bytes
        self.expected = max(start_seq, 1)
        self.pending = 0  # messages the server still held for us after the last one taken
        self.restarts = 0
        self._idle_since_seq = 0  # ``expected`` when an idle check last found messages
        self._closed = False
        self._sub: JetStreamContext.PushSubscription | None = None

    async def start(self) -> None:
        await self._subscribe()

    async def _subscribe(self) -> None:
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.expected
        )
        self._sub = await self.js.subscribe(
            self.filter,
            stream=self.stream,
            ordered_consumer=True,
            config=config,
            pending_msgs_limit=self.max_queue,
            pending_bytes_limit=self.max_queue_bytes,
        )
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
        if self._sub is None:
            raise RuntimeError("the feed is not started")
        msgs = await take_pending(self._sub, timeout, max_messages)
        if self._closed:
            return []
        if not msgs:
            await self._check_idle()
            return []
        self._idle_since_seq = 0
        taken: list[RawMsg] = []
        for msg in msgs:
            raw, pending = raw_of(msg)
            if raw.seq < self.expected:
                continue  # delivered again after nats-py recreated the consumer
            if raw.seq > self.expected and not await self._real_gap(raw.seq):
                await self._restart()
                break
            self.expected = raw.seq + 1
            self.pending = pending
            taken.append(raw)
        return taken

    async def _real_gap(self, seq: int) -> bool:
        """True when no message on our subjects lies between ``expected`` and ``seq``."""
        try:
            found = await self.js._jsm.get_msg(
                self.stream, seq=self.expected, subject=self.filter, next=True
            )
        except NatsErrors as err:
            log.warning("gap check failed: %s", err, extra={"expected": self.expected})
            return False
        real = found.seq is not None and found.seq >= seq
        log.log(
            logging.INFO if real else logging.WARNING,
            "ledger feed: seq %d after %d; %s",
            seq,
            self.expected - 1,
            "nothing of ours between" if real else "messages were dropped, resubscribing",
            extra={"expected": self.expected, "received": seq, "real_gap": real},
        )
        return real

    async def _check_idle(self) -> None:
        """Nothing came: fine if the stream has nothing more for us. If it has, twice in a
        row at the same position, the messages were lost on the way (dropped at the tail
        of the queue, or a consumer gone): resubscribe."""
        try:
            found = await self.js._jsm.get_msg(
                self.stream, seq=self.expected, subject=self.filter, next=True
            )
        except nats.js.errors.NotFoundError:
            self._idle_since_seq = 0
            return
        except NatsErrors as err:
            log.warning("idle check failed: %s", err, extra={"expected": self.expected})
            return
        if found.seq is None:
            return
        if self._idle_since_seq != self.expected:
            self._idle_since_seq = self.expected
            return
        log.warning(
            "ledger feed: seq %d is stored but was not delivered; resubscribing",
            found.seq,
            extra={"expected": self.expected, "stored": found.seq},
        )
        self._idle_since_seq = 0
        await self._restart()

    async def _restart(self) -> None:
        self.restarts += 1
        await self._unsubscribe()
        if not self._closed:
            await self._subscribe()

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except NatsErrors as err:
            log.warning("ledger feed unsubscribe failed: %s", err)

    @property
    def queued(self) -> int:
        """Messages received from the server and not yet taken."""
        return self._sub.pending_msgs if self._sub is not None else 0

    @property
    def queued_bytes(self) -> int:
        """Payload bytes received from the server and not yet taken."""
        return self._sub.pending_bytes if self._sub is not None else 0

    async def stop(self) -> None:
        self._closed = True
        await self._unsubscribe()
