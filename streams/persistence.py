"""eventsourcing persistence on NATS JetStream: ``PERSISTENCE_MODULE=streams.persistence``.

Environment (each key may be prefixed with the application's name, as eventsourcing does):

- ``HIVELEDGER_NATS_URL`` (default ``nats://127.0.0.1:4222``)
- ``HIVELEDGER_LEDGER_STREAM`` (default ``LEDGER``), ``HIVELEDGER_LEDGER_PREFIX`` (default
  ``hive.ledger``): the stream and its subject prefix; tests use unique ones to share a server
- ``HIVELEDGER_NATS_TIMEOUT`` (seconds per NATS request, default 10),
  ``HIVELEDGER_LEDGER_REPLICAS`` (default 1), ``CREATE_TABLE`` (default yes: create or update
  the stream; "no" when it is managed elsewhere, e.g. a mirror on a follower)

THE LEDGER WIRE FORMAT (what the projector and auditors read)

Stream ``LEDGER``, subjects ``<prefix>.>``, file storage, ``allow_atomic``, ``allow_direct``,
``deny_delete``, ``deny_purge``.

- One subject per aggregate (streams/subjects.py): str id ``"<type>.<key>"`` ->
  ``<prefix>.<type>.<key>``; UUID id -> ``<prefix>.uuid.<hex>`` (read back as a UUID).
  Other ids are refused. ``<prefix>._*`` subjects are reserved and are never events.
- Event message: data = ``StoredEvent.state`` exactly as the mapper made it; headers
  ``Hive-Topic`` (the event's topic) and ``Hive-Version`` (originator_version, decimal).
  Versions of an aggregate start at 0 or 1 and rise by exactly one.
- Notification id = the event message's stream sequence. Ids rise but have gaps where a
  tracking record sits; batches of events alone have none.
- Tracking record: subject ``<prefix>._tracking.<application_name>``, data compact JSON
  ``{"application_name": str, "notification_id": int}``; the last one is the position.
- Every write (``insert_events``, ``insert_tracking``) is ONE atomic batch: the event
  messages in order, then the tracking record if any. Its first message carries
  ``Nats-Expected-Last-Sequence`` (the single-writer fence), the first message of each
  aggregate ``Nats-Expected-Last-Subject-Sequence`` (optimistic concurrency), and its last
  message the header ``Hive-Commit``: the commit record that chains batches into a
  tamper-evident log (streams/commit_chain.py, with ``verify_chain``). The stream's last
  message therefore always carries the head of the chain.

Snapshots (``aggregate_recorder("snapshots")``) go to their own stream
``<LEDGER>_SNAPSHOTS``, subjects ``<prefix>_snapshots.>``, not chained, purgeable.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import nats
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    ProgrammingError,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool
from nats.aio.client import Client as NATS

from streams.datastore import JetStreamDatastore
from streams.jetstream import ensure_ledger_stream, ensure_stream, install_fast_header_parser
from streams.loop_thread import LoopThread
from streams.recorders import (
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamRecorder,
    JetStreamTrackingRecorder,
)

__all__ = [
    "Factory",
    "JetStreamAggregateRecorder",
    "JetStreamApplicationRecorder",
    "JetStreamProcessRecorder",
    "JetStreamTrackingRecorder",
]

log = logging.getLogger(__name__)

_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]+")
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


class Factory(InfrastructureFactory[JetStreamTrackingRecorder]):
    """Owns one event-loop thread and one nats connection, shared by its recorders."""

    NATS_URL = "HIVELEDGER_NATS_URL"
    LEDGER_STREAM = "HIVELEDGER_LEDGER_STREAM"
    LEDGER_PREFIX = "HIVELEDGER_LEDGER_PREFIX"
    NATS_TIMEOUT = "HIVELEDGER_NATS_TIMEOUT"
    LEDGER_REPLICAS = "HIVELEDGER_LEDGER_REPLICAS"
    CREATE_TABLE = "CREATE_TABLE"

    aggregate_recorder_class = JetStreamAggregateRecorder
    application_recorder_class = JetStreamApplicationRecorder
    tracking_recorder_class = JetStreamTrackingRecorder
    process_recorder_class = JetStreamProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.nats_url = self.env.get(self.NATS_URL) or "nats://127.0.0.1:4222"
        self.stream = self.env.get(self.LEDGER_STREAM) or "LEDGER"
        self.prefix = self.env.get(self.LEDGER_PREFIX) or "hive.ledger"
        self.timeout = float(self.env.get(self.NATS_TIMEOUT) or 10.0)
        self.replicas = int(self.env.get(self.LEDGER_REPLICAS) or 1)
        if not _STREAM_NAME.fullmatch(self.stream):
            raise OSError(f"{self.LEDGER_STREAM}={self.stream!r} is not a valid stream name")
        if not _PREFIX.fullmatch(self.prefix):
            raise OSError(f"{self.LEDGER_PREFIX}={self.prefix!r} is not a valid subject prefix")
        self._lock = threading.Lock()
        self._loop: LoopThread | None = None
        self._nc: NATS | None = None
        self._datastores: dict[str, JetStreamDatastore] = {}
        self._closed = False

    # ---------------------------------------------------------------------- recorders

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return self.aggregate_recorder_class(self.datastore(purpose))

    def application_recorder(self) -> ApplicationRecorder:
        cls = self._recorder_class(self.APPLICATION_RECORDER_TOPIC, self.application_recorder_class)
        return cls(self.datastore())

    def tracking_recorder(
        self, tracking_recorder_class: type[JetStreamTrackingRecorder] | None = None
    ) -> JetStreamTrackingRecorder:
        cls = tracking_recorder_class or self._recorder_class(
            self.TRACKING_RECORDER_TOPIC, self.tracking_recorder_class
        )
        if not issubclass(cls, JetStreamTrackingRecorder):
            raise ProgrammingError(f"{cls} is not a JetStreamTrackingRecorder")
        return cls(self.datastore())

    def process_recorder(self) -> ProcessRecorder:
        cls = self._recorder_class(self.PROCESS_RECORDER_TOPIC, self.process_recorder_class)
        return cls(self.datastore())

    def _recorder_class(self, topic_key: str, default: type[Any]) -> type[Any]:
        topic = self.env.get(topic_key)
        cls = resolve_topic(topic) if topic else default
        if not (isinstance(cls, type) and issubclass(cls, JetStreamRecorder)):
            raise ProgrammingError(f"{topic_key}={topic!r} is not a JetStream recorder class")
        return cls

    # ---------------------------------------------------------------- infrastructure

    def datastore(self, purpose: str = "events") -> JetStreamDatastore:
        """The datastore of the events stream (or of another purpose, e.g. snapshots)."""
        with self._lock:
            if self._closed:
                raise ProgrammingError("the JetStream infrastructure factory is closed")
            found = self._datastores.get(purpose)
            if found is None:
                found = self._open_datastore(purpose)
                self._datastores[purpose] = found
            return found

    def _open_datastore(self, purpose: str) -> JetStreamDatastore:
        loop, nc = self._connection()
        events = purpose == "events"
        stream = self.stream if events else f"{self.stream}_{purpose.upper()}"
        prefix = self.prefix if events else f"{self.prefix}_{purpose}"
        if not _STREAM_NAME.fullmatch(stream):
            raise ProgrammingError(f"recorder purpose {purpose!r} gives no valid stream name")
        datastore = JetStreamDatastore(
            loop, nc, stream, prefix, chained=events, contiguous=events, timeout=self.timeout
        )
        if self.env_create_table():
            datastore.run(self._ensure(nc, stream, prefix, events))
        return datastore

    async def _ensure(self, nc: NATS, stream: str, prefix: str, events: bool) -> None:
        if events:
            await ensure_ledger_stream(
                nc, stream, prefix, replicas=self.replicas, timeout=self.timeout
            )
            return
        config = {
            "name": stream,
            "subjects": [f"{prefix}.>"],
            "storage": "file",
            "num_replicas": self.replicas,
            "allow_atomic": True,
            "allow_direct": True,
        }
        await ensure_stream(nc, config, self.timeout)

    def _connection(self) -> tuple[LoopThread, NATS]:
        if self._loop is None:
            self._loop = LoopThread(name=f"hiveledger-{self.stream}")
        if self._nc is None:
            self._nc = self._loop.run(self._connect(), timeout=self.timeout + 5)
        return self._loop, self._nc

    async def _connect(self) -> NATS:
        install_fast_header_parser()

        async def on_error(err: Exception) -> None:
            log.warning("nats (%s): %s", self.nats_url, err)

        async def on_disconnect() -> None:
            log.info("nats (%s): disconnected", self.nats_url)

        async def on_reconnect() -> None:
            log.info("nats (%s): reconnected", self.nats_url)

        return await nats.connect(
            self.nats_url,
            name=f"hiveledger-persistence-{self.stream}",
            connect_timeout=self.timeout,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )

    def env_create_table(self) -> bool:
        return bool(strtobool(self.env.get(self.CREATE_TABLE) or "yes"))

    def close(self) -> None:
        """Close the nats connection and stop the loop thread. Idempotent."""
        with self._lock:
            self._closed = True
            loop, nc = self._loop, self._nc
            self._loop, self._nc = None, None
            self._datastores.clear()
        if loop is None:
            return
        try:
            if nc is not None:
                loop.run(nc.close(), timeout=self.timeout)
        except Exception as err:  # closing is best effort
            log.warning("closing nats connection: %s", err)
        finally:
            loop.close()
