"""eventsourcing recorders on JetStream (wire format: see streams/persistence.py)."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from nats.aio.msg import Msg

from streams.commit_chain import TOPIC_HEADER, VERSION_HEADER
from streams.datastore import JetStreamDatastore, PendingWrite
from streams.jetstream import StoredMsg
from streams.subjects import aggregate_subject, is_reserved, originator_id_of

SUBSCRIPTION_WAIT = 0.25  # s; how soon a blocked __next__ notices stop() from another thread
SUBSCRIPTION_TAKE = 1000  # messages taken per crossing to the loop thread


class JetStreamRecorder:
    def __init__(self, datastore: JetStreamDatastore) -> None:
        self.datastore = datastore

    def _insert(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        if not stored_events and tracking is None:
            return []
        return self.datastore.run(self.datastore.writer.write(list(stored_events), tracking))

    def submit_events(
        self, stored_events: Sequence[StoredEvent], tracking: Tracking | None
    ) -> PendingWrite:
        """Send one atomic write and return before its ack: see LedgerWriter.submit."""
        return self.datastore.submit(list(stored_events), tracking)


class JetStreamAggregateRecorder(JetStreamRecorder, AggregateRecorder):
    """Events of aggregates, one subject per aggregate, written as atomic batches."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._insert(stored_events, kwargs.get("tracking"))
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        subject = aggregate_subject(self.datastore.prefix, originator_id)
        ds = self.datastore
        msgs = ds.run(ds.select_subject(subject, gt, lte, desc, limit))
        return [
            StoredEvent(
                originator_id=originator_id,
                originator_version=int(msg.headers[VERSION_HEADER]),
                topic=msg.headers[TOPIC_HEADER],
                state=msg.data,
            )
            for msg in msgs
        ]


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    """Also the application sequence: notification ids are the events' stream sequences."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._insert(stored_events, kwargs.get("tracking"))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if limit <= 0:
            return []
        ds = self.datastore
        msgs = ds.run(ds.select_notifications(start, limit, stop, topics, inclusive_of_start))
        return [self.notification(msg) for msg in msgs]

    def max_notification_id(self) -> int | None:
        return self.datastore.run(self.datastore.max_notification_id())

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return JetStreamSubscription(self, gt=gt, topics=topics)

    def notification(self, msg: StoredMsg) -> Notification:
        return Notification(
            id=msg.seq,
            originator_id=originator_id_of(self.datastore.prefix, msg.subject),
            originator_version=int(msg.headers[VERSION_HEADER]),
            topic=msg.headers[TOPIC_HEADER],
            state=msg.data,
        )


class JetStreamTrackingRecorder(JetStreamRecorder, TrackingRecorder):
    """Positions in upstream applications, on ``<prefix>._tracking.<application_name>``."""

    def insert_tracking(self, tracking: Tracking) -> None:
        self._insert([], tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.datastore.run(self.datastore.max_tracking_id(application_name))


class JetStreamProcessRecorder(
    JetStreamTrackingRecorder, JetStreamApplicationRecorder, ProcessRecorder
):
    """Events and the upstream position, in one atomic batch."""


class JetStreamSubscription(Subscription[JetStreamApplicationRecorder]):
    """Notifications after ``gt``, live, through an ordered push consumer.

    The consumer's messages wait in a bounded queue on the loop thread (flow control holds
    the server back when it is full); ``__next__`` takes up to 1000 per crossing.
    """

    def __init__(
        self,
        recorder: JetStreamApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._datastore = recorder.datastore
        self._wanted = frozenset(topics)
        self._buffer: deque[Notification] = deque()
        self._psub: Any = self._datastore.run(self._datastore.open_ordered(gt))

    def stop(self) -> None:
        super().stop()
        psub, self._psub = self._psub, None
        if psub is not None:
            with contextlib.suppress(PersistenceError):
                self._datastore.run(psub.unsubscribe(), timeout=self._datastore.timeout)

    def __next__(self) -> Notification:
        while True:
            if self._has_been_stopped or self._psub is None:
                raise StopIteration
            if self._buffer:
                return self._buffer.popleft()
            ds = self._datastore
            msgs = ds.run(ds.take(self._psub, SUBSCRIPTION_WAIT, SUBSCRIPTION_TAKE))
            for msg in msgs:
                self._accept(msg)

    def _accept(self, msg: Msg) -> None:
        prefix = self._datastore.prefix
        if is_reserved(prefix, msg.subject):
            return
        headers = msg.headers or {}
        topic = headers.get(TOPIC_HEADER, "")
        if self._wanted and topic not in self._wanted:
            return
        self._buffer.append(
            Notification(
                id=msg.metadata.sequence.stream,
                originator_id=originator_id_of(prefix, msg.subject),
                originator_version=int(headers[VERSION_HEADER]),
                topic=topic,
                state=msg.data,
            )
        )
