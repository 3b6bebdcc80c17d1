"""One stream seen through one nats connection: the writer, the reads, the bridge.

Recorders are thin synchronous wrappers over this; every call crosses to the event-loop
thread once (``run``), with a deadline, and NATS failures come back as eventsourcing's
``OperationalError`` (``LedgerTimeoutError`` for timeouts).
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import nats.errors
from eventsourcing.persistence import (
    DatabaseError,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import api as js_api

from streams.commit_chain import COMMIT_HEADER, TOPIC_HEADER, VERSION_HEADER, CommitRecord
from streams.jetstream import (
    MAX_DIRECT_BATCH,
    JetStreamError,
    StoredMsg,
    direct_get_batch,
    direct_get_last,
    take_pending,
)
from streams.ledger_writer import LedgerTimeoutError, LedgerWriter, SentBatch
from streams.loop_thread import LoopThread
from streams.subjects import is_reserved, tracking_subject

T = TypeVar("T")


class JetStreamDatastore:
    """The LEDGER (or snapshot) stream ``stream`` holding subjects ``<prefix>.>``."""

    def __init__(
        self,
        loop: LoopThread,
        nc: NATS,
        stream: str,
        prefix: str,
        *,
        chained: bool = True,
        contiguous: bool = True,
        timeout: float = 10.0,
        cache_size: int = 100_000,
    ) -> None:
        self.loop = loop
        self.nc = nc
        self.stream = stream
        self.prefix = prefix
        self.timeout = timeout  # per NATS request
        self.writer = LedgerWriter(
            nc,
            stream,
            prefix,
            chained=chained,
            contiguous=contiguous,
            cache_size=cache_size,
            timeout=timeout,
        )

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop thread; map NATS failures to eventsourcing errors."""
        deadline = timeout if timeout is not None else 3 * self.timeout
        try:
            return self.loop.run(coro, deadline)
        except PersistenceError:
            raise
        except (TimeoutError, nats.errors.TimeoutError) as err:
            raise LedgerTimeoutError(f"{self.stream}: {err}") from err
        except (JetStreamError, nats.errors.Error, RuntimeError) as err:
            raise OperationalError(f"{self.stream}: {err}") from err

    def submit(self, events: Sequence[StoredEvent], tracking: Tracking | None) -> PendingWrite:
        """Send a write without waiting for its ack (LedgerWriter.submit)."""
        return PendingWrite(self, self.run(self.writer.submit(events, tracking)))

    # ------------------------------------------------------------------ aggregate reads

    async def select_subject(
        self,
        subject: str,
        gt: int | None,
        lte: int | None,
        desc: bool,
        limit: int | None,
    ) -> list[StoredMsg]:
        """The events of one aggregate, filtered by version as ``select_events`` wants."""
        if desc and limit == 1 and lte is None:
            last = await direct_get_last(self.nc, self.stream, subject, self.timeout)
            if last is None:
                return []
            self.writer.observe(subject, version_of(last), last.seq)
            return [last] if gt is None or version_of(last) > gt else []
        selected: list[StoredMsg] = []
        seq = 1
        while True:
            page = await direct_get_batch(
                self.nc, self.stream, subject, seq, MAX_DIRECT_BATCH, timeout=self.timeout
            )
            for msg in page.messages:
                version = version_of(msg)
                if lte is not None and version > lte:
                    return _ordered(selected, desc, limit)
                if gt is None or version > gt:
                    selected.append(msg)
                    if limit is not None and not desc and len(selected) >= limit:
                        return selected
            if not page.messages or page.num_pending == 0:
                break
            seq = page.messages[-1].seq + 1
        if page.messages:  # read through to the subject's last message
            self.writer.observe(subject, version_of(page.messages[-1]), page.messages[-1].seq)
        return _ordered(selected, desc, limit)

    # --------------------------------------------------------------- notification reads

    async def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
    ) -> list[StoredMsg]:
        """Event messages in stream order from ``start``; ``_`` subjects are skipped."""
        seq = 1 if start is None else (start if inclusive_of_start else start + 1)
        wanted = frozenset(topics)
        selected: list[StoredMsg] = []
        while len(selected) < limit and (stop is None or seq <= stop):
            missing = limit - len(selected)
            size = max(missing * 4, 100) if wanted else missing + 1  # +1: a tracking record
            if stop is not None:
                size = min(size, stop - seq + 1)
            page = await direct_get_batch(
                self.nc,
                self.stream,
                f"{self.prefix}.>",
                seq,
                min(size, MAX_DIRECT_BATCH),
                timeout=self.timeout,
            )
            for msg in page.messages:
                if stop is not None and msg.seq > stop:
                    return selected
                if is_reserved(self.prefix, msg.subject):
                    continue
                if wanted and msg.headers.get(TOPIC_HEADER) not in wanted:
                    continue
                selected.append(msg)
                if len(selected) >= limit:
                    return selected
            if not page.messages or page.num_pending == 0:
                break
            seq = page.messages[-1].seq + 1
        return selected

    async def max_notification_id(self) -> int | None:
        """The newest event's sequence, from the last commit record (one request)."""
        last = await direct_get_last(self.nc, self.stream, f"{self.prefix}.>", self.timeout)
        if last is None:
            return None
        value = last.headers.get(COMMIT_HEADER)
        if value is not None:
            return CommitRecord.from_header(value, last.seq).last_event or None
        if not is_reserved(self.prefix, last.subject):
            return last.seq
        raise DatabaseError(f"{self.stream}: last message (seq {last.seq}) has no commit record")

    async def max_tracking_id(self, application_name: str) -> int | None:
        subject = tracking_subject(self.prefix, application_name)
        last = await direct_get_last(self.nc, self.stream, subject, self.timeout)
        if last is None:
            return None
        position = int(json.loads(last.data)["notification_id"])
        self.writer.positions.put(subject, position, last.seq)
        return position

    # ------------------------------------------------------------------- subscriptions

    async def open_ordered(self, gt: int | None) -> Any:
        """An ordered push consumer on every ledger subject, from just after ``gt``.

        No callback: messages wait in the subscription's queue and flow control is answered
        only as they are taken, so a slow reader holds the server back instead of
        dropping messages.
        """
        js = self.nc.jetstream(timeout=self.timeout)
        config = js_api.ConsumerConfig(
            deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE if gt else None,
            opt_start_seq=gt + 1 if gt else None,
        )
        return await js.subscribe(
            f"{self.prefix}.>",
            stream=self.stream,
            ordered_consumer=True,
            config=config,
            deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE if gt else None,
        )

    @staticmethod
    async def take(psub: Any, wait: float, most: int) -> list[Msg]:
        """Wait up to ``wait`` s for one message, then take what is already queued."""
        return await take_pending(psub, wait, most)


class PendingWrite:
    """A write sent to the stream; ``wait()`` returns its sequences or raises its error."""

    def __init__(self, datastore: JetStreamDatastore, sent: SentBatch) -> None:
        self.datastore = datastore
        self.sent = sent

    def wait(self) -> list[int]:
        return self.datastore.run(self.datastore.writer.confirm(self.sent))

    def failed_unsent(self) -> bool:
        return False  # it was sent: a failure now is the fence's to stop


def version_of(msg: StoredMsg) -> int:
    return int(msg.headers[VERSION_HEADER])


def _ordered(selected: list[StoredMsg], desc: bool, limit: int | None) -> list[StoredMsg]:
    if desc:
        selected.reverse()
    return selected[:limit] if limit is not None else selected
