"""INTAKE read in order through a push consumer, for the check stage.

Direct Get answers any position at once (the check stage first read INTAKE that way),
but adds six ``Nats-*`` headers to every message, and nats-py parses each in Python:
reading cost the check stage about as much as two thirds of a signature check per
transaction. A push consumer delivers each message as published (bulk-published
envelopes carry no headers at all), with its stream sequence in the reply subject. The
check stage reads INTAKE front to back, so the consumer is simply kept; a request for
another position, or a jump in sequence, starts a new one there.

The consumer is read as raw frames (streams/push_frames.py): nats-py's per-message work
is skipped, and flow control is answered only as messages are taken, so the server holds
back what the reader has not taken.
"""

from __future__ import annotations

import logging

from streams.intake import INTAKE_PREFIX, IntakeMessage
from streams.loop_thread import LoopThread
from streams.push_frames import HEARTBEAT_S, FrameClient, FramePushConsumer, connect_frames

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
JUMPS_BEFORE_ALARM = 3
CALL_GRACE_S = 10.0  # a busy server (fsyncs) may answer late; late is not failed


def connect_on_loop(url: str, name: str) -> tuple[LoopThread, FrameClient]:
    """A loop thread of its own and a connection on it that reconnects for ever."""
    loop = LoopThread(name="hiveledger-intake")
    nc: FrameClient = loop.run(
        connect_frames(url, name=name, connect_timeout=2, max_reconnect_attempts=-1),
        CONNECT_TIMEOUT_S,
    )
    return loop, nc


class IntakeReader:
    """An IntakeSource (``fetch(start_seq, limit, timeout)``) that reads sequentially."""

    def __init__(
        self,
        url: str,
        stream: str = "INTAKE",
        prefix: str = INTAKE_PREFIX,
        *,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.stream = stream
        self.subjects = f"{prefix}.>"
        self.loop, self.nc = connect_on_loop(url, "hiveledger-check-intake")
        self._consumer = FramePushConsumer(self.nc, stream, self.subjects, heartbeat_s=heartbeat_s)
        self.expected = 0  # the next stream sequence the subscription will deliver
        self.restarts = 0
        self._jump_at, self._jumps = 0, 0

    def fetch(self, start_seq: int, limit: int, timeout: float = 5.0) -> list[IntakeMessage]:
        return self.loop.run(self._fetch(start_seq, limit, timeout), timeout + CALL_GRACE_S)

    async def _fetch(self, start_seq: int, limit: int, timeout: float) -> list[IntakeMessage]:
        lost = (
            self._consumer.started
            and start_seq == self.expected
            and (self._consumer.stale or self._consumer.lost_since(self.expected))
        )
        if lost:
            log.warning(
                "intake reader: nothing from seq %d on came through (%s); reading again there",
                self.expected,
                "the consumer fell silent" if self._consumer.stale else "frames were lost",
            )
        if lost or not self._consumer.started or start_seq != self.expected:
            await self._subscribe(start_seq)
        taken: list[IntakeMessage] = []
        for msg in await self._consumer.take(limit, timeout):
            seq = msg.seq
            if seq < self.expected:
                continue  # delivered again after nats-py recreated the consumer
            if seq > self.expected:  # INTAKE has no other subjects: a jump is a loss
                await self._jumped(seq)
                break
            taken.append(IntakeMessage(seq, msg.subject, msg.data))
            self.expected = seq + 1
        return taken

    async def _jumped(self, seq: int) -> None:
        """A message was skipped: read again from it. If it keeps being skipped, it is not
        in the stream any more (purged or expired): say so loudly, the sequencer waits."""
        self._jumps = self._jumps + 1 if self._jump_at == self.expected else 1
        self._jump_at = self.expected
        level = logging.ERROR if self._jumps >= JUMPS_BEFORE_ALARM else logging.WARNING
        log.log(
            level, "intake reader: seq %d, expected %d (%d times); reading again from %d%s",
            seq, self.expected, self._jumps, self.expected,
            ": is that message gone from INTAKE?" if level == logging.ERROR else "",
        )  # fmt: skip
        await self._subscribe(self.expected)

    async def _subscribe(self, start_seq: int) -> None:
        self.restarts += 1
        await self._consumer.start(start_seq)
        self.expected = max(start_seq, 1)

    async def _unsubscribe(self) -> None:
        try:
            await self._consumer.stop()
        except Exception as error:  # the old consumer goes away with its inactivity
            log.debug("intake reader: unsubscribe failed: %s", error)

    def close(self) -> None:
        """Close the subscription and connection (a server already gone is only logged)."""
        try:
            self.loop.run(self._unsubscribe(), CONNECT_TIMEOUT_S)
            self.loop.run(self.nc.close(), CONNECT_TIMEOUT_S)
        except Exception as error:
            log.warning("closing the INTAKE reader: %s: %s", type(error).__name__, error)
        finally:
            self.loop.close()
