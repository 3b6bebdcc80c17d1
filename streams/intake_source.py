"""INTAKE read in batches with Direct Get, for the sequencer's synchronous thread."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS

from streams.intake import INTAKE_PREFIX, IntakeMessage
from streams.jetstream import direct_get_batch
from streams.loop_thread import LoopThread

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
FETCH_GRACE_S = 10.0  # a busy server (fsyncs) may answer late; late is not failed


def connect_on_loop(url: str, name: str) -> tuple[LoopThread, NATS]:
    """A loop thread of its own and a connection on it that reconnects for ever."""
    loop = LoopThread(name="hiveledger-intake")
    nc: NATS = loop.run(
        nats.connect(url, name=name, connect_timeout=2, max_reconnect_attempts=-1),
        CONNECT_TIMEOUT_S,
    )
    return loop, nc


class JetStreamIntakeSource:
    """Owns a loop thread and a connection; ``fetch`` is one Direct Get batch request."""

    def __init__(self, url: str, stream: str = "INTAKE", prefix: str = INTAKE_PREFIX) -> None:
        self.stream = stream
        self.subjects = f"{prefix}.>"
        self.loop, self.nc = connect_on_loop(url, "hiveledger-sequencer-intake")

    def fetch(self, start_seq: int, limit: int, timeout: float = 5.0) -> list[IntakeMessage]:
        batch = self.loop.run(
            direct_get_batch(
                self.nc, self.stream, self.subjects, start_seq, limit, timeout=timeout
            ),
            timeout + FETCH_GRACE_S,
        )
        return [IntakeMessage(m.seq, m.subject, m.data) for m in batch.messages]

    def close(self) -> None:
        """Close the connection (a server already gone is only logged) and the loop."""
        try:
            self.loop.run(self.nc.close(), CONNECT_TIMEOUT_S)
        except Exception as error:
            log.warning("closing the INTAKE connection: %s: %s", type(error).__name__, error)
        finally:
            self.loop.close()
