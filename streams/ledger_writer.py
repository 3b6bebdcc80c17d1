"""The write path of the LEDGER: each insert is ONE atomic batch, fenced and chained.

Per aggregate, optimistic concurrency: the first message of each subject in a batch
carries ``Nats-Expected-Last-Subject-Sequence`` = the stream sequence of that aggregate's
last event (0 for a new aggregate), known from a bounded cache filled by every write and
read, or looked up (batch ``multi_last``) on a miss. Versions must follow on from the last
stored version by exactly one; a wrong version is refused here, before publishing.

Per ledger, a single writer: the first message of each batch carries
``Nats-Expected-Last-Sequence`` = the last stream sequence this writer knows, and the last
message carries the commit record (streams/commit_chain.py). Any write by someone else
breaks the fence: the batch is refused, the head is re-read and ``IntegrityError`` raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence

import nats.errors
from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)
from nats.aio.client import Client as NATS

from streams.commit_chain import (
    COMMIT_HEADER,
    TOPIC_HEADER,
    VERSION_HEADER,
    CommitRecord,
    chain_hash,
    event_digest,
)
from streams.jetstream import (
    ERR_BATCH_SAME_SUBJECT_EXPECTED,
    ERR_BATCH_TOO_LARGE,
    ERR_WRONG_LAST_SEQUENCE,
    MAX_BATCH_MESSAGES,
    AckInbox,
    BatchRefusedError,
    JetStreamError,
    await_ack,
    direct_get_last,
    limit_in_refusal,
    multi_last,
    probe_batch_limit,
    send_atomic_batch,
)
from streams.subjects import aggregate_subject, tracking_subject
from streams.writer_state import Head, SentBatch, VersionCache

log = logging.getLogger(__name__)

EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
CONFLICT_CODES = (ERR_WRONG_LAST_SEQUENCE, ERR_BATCH_SAME_SUBJECT_EXPECTED)
LOOKUP_CHUNK = 1000  # multi_last matches at most 1024 subjects per request

_Message = tuple[str, bytes, dict[str, str]]


class LedgerTimeoutError(OperationalError, TimeoutError):
    """No answer from NATS in time; for a write, its outcome is unknown."""


class _PresumedNewError(Exception):
    """A refusal that may come from presuming an uncached aggregate new: look up, retry."""


class LedgerWriter:
    """Serialises the writes of one process to one stream (an asyncio lock on the loop)."""

    def __init__(
        self,
        nc: NATS,
        stream: str,
        prefix: str,
        *,
        chained: bool = True,
        contiguous: bool = True,
        cache_size: int = 100_000,
        timeout: float = 10.0,
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.prefix = prefix
        self.chained = chained  # fence + commit records (LEDGER); off for snapshots
        self.contiguous = contiguous  # versions rise by exactly one; off for snapshots
        self.timeout = timeout
        self.versions = VersionCache(cache_size)  # subject -> (version, seq)
        self.positions = VersionCache(10_000)  # tracking subject -> (notification id, seq)
        self.head: Head | None = None
        self.batch_limit = MAX_BATCH_MESSAGES  # messages per write; see negotiate_batch_limit
        self._lock = asyncio.Lock()
        self._inbox: AckInbox | None = None
        self._in_flight = 0

    async def write(self, events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        """Store ``events`` (and ``tracking``) atomically; return their stream sequences."""
        self._check_size(events, tracking)
        async with self._lock, self._mapped_errors():
            return await self._write_checked(events, tracking)

    async def submit(self, events: Sequence[StoredEvent], tracking: Tracking | None) -> SentBatch:
        """Send a chained write without waiting for its ack; ``confirm`` it later.

        The writer moves on as if the write had landed (head, versions, position), so the
        next write can be sent at once. If this one is refused, every write sent after it
        is refused too (its fence names a head that never was): confirm each in order and,
        on the first failure, reload before writing again."""
        assert self.chained, "pipelined writes need the commit fence"
        self._check_size(events, tracking)
        async with self._lock, self._mapped_errors():
            if self.head is None:
                await self.load_head()
            return await self._send(events, tracking, presume_new=True)

    async def confirm(self, sent: SentBatch) -> list[int]:
        """Wait for a submitted write's ack: its stream sequences, or the error."""
        async with self._mapped_errors():
            try:
                return await self._confirm(sent)
            except _PresumedNewError as err:
                self._forget_all()
                raise IntegrityError(f"{self.stream} refused the write: {err}") from err

    async def negotiate_batch_limit(self, wanted: int) -> int:
        """Write batches of up to ``wanted`` messages, or of as many as the server takes
        if fewer (its ``limits.batch.max_msgs``; 1000 unless raised). Returns the limit now
        in use. If the server cannot be asked, the default: a probe stores nothing, and
        every server takes 1000."""
        async with self._lock:
            subject = f"{self.prefix}._probe"
            try:
                limit = await probe_batch_limit(self.nc, subject, wanted, self.timeout)
            except (JetStreamError, nats.errors.Error) as error:
                limit = min(wanted, MAX_BATCH_MESSAGES)
                log.warning("%s: could not ask the batch limit (%s); %d", self.stream, error, limit)
            self.batch_limit = limit
        return limit

    def _smaller_batches(self, refusal: BatchRefusedError) -> None:
        """A write refused for its size (the server's limit was lowered, or a stream's
        leader moved to a server with a lower one): write smaller batches from now on."""
        stated = limit_in_refusal(refusal)
        lower = stated if stated and stated < self.batch_limit else self.batch_limit // 2
        self.batch_limit = max(lower, 1)
        log.warning(
            "%s refused a batch for its size (%s); batches of up to %d messages from now on",
            self.stream, refusal.description, self.batch_limit,
        )  # fmt: skip

    def _check_size(self, events: Sequence[StoredEvent], tracking: Tracking | None) -> None:
        if len(events) + (tracking is not None) > self.batch_limit:
            raise ProgrammingError(
                f"{len(events)} events (+ tracking) exceed the atomic batch limit of "
                f"{self.batch_limit} messages; save fewer at once"
            )

    @contextlib.asynccontextmanager
    async def _mapped_errors(self) -> AsyncIterator[None]:
        """NATS failures become eventsourcing's errors; an unknown outcome forgets all."""
        try:
            yield
        except (JetStreamError, nats.errors.Error, asyncio.CancelledError) as err:
            self._forget_all()  # the outcome is unknown: trust nothing cached
            if isinstance(err, asyncio.CancelledError):
                raise
            if isinstance(err, TimeoutError | nats.errors.TimeoutError):
                raise LedgerTimeoutError(str(err)) from err
            raise OperationalError(f"write to {self.stream} failed: {err}") from err

    async def _write_checked(
        self, events: Sequence[StoredEvent], tracking: Tracking | None
    ) -> list[int]:
        if self.chained and self.head is None:
            await self.load_head()
        head = self.head
        try:
            try:
                return await self._confirm(await self._send(events, tracking, presume_new=True))
            except _PresumedNewError:
                if await self._head_moved(head):
                    raise IntegrityError(f"{self.stream}: another writer wrote") from None
                sent = await self._send(events, tracking, presume_new=False)
                return await self._confirm(sent)
        except IntegrityError:
            # A refusal may come from a cache made stale by another writer: if the head
            # moved, forget everything, so that the caller's next attempt starts afresh.
            if not await self._head_moved(head):
                for event in events:
                    self._drop_if_unfenced(event)
            raise

    async def _head_moved(self, head: Head | None) -> bool:
        if not self.chained:
            return False
        await self.load_head()
        if self.head == head:
            return False
        self.versions.clear()
        self.positions.clear()
        return True

    def _drop_if_unfenced(self, event: StoredEvent) -> None:
        """Without the fence (snapshots) any cached version may be stale: drop it."""
        if not self.chained:
            self.versions.drop(aggregate_subject(self.prefix, event.originator_id))

    async def load_head(self) -> Head:
        """Read the last commit record (the stream's last message) and cache it."""
        last = await direct_get_last(self.nc, self.stream, f"{self.prefix}.>", self.timeout)
        if last is None:
            self.head = Head()
            return self.head
        value = last.headers.get(COMMIT_HEADER)
        if value is None:
            raise DatabaseError(
                f"{self.stream}: last message (seq {last.seq}) has no commit record; "
                "it was not written by this recorder"
            )
        record = CommitRecord.from_header(value, last.seq)
        self.head = Head(last.seq, bytes.fromhex(record.hash), record.last_event)
        return self.head

    def observe(self, subject: str, version: int, seq: int) -> None:
        """Let reads keep the version cache warm."""
        self.versions.put(subject, version, seq)

    def reset(self) -> None:
        """Forget every presumption (head, versions, positions): the next write reads the
        head from the stream. For the caller's reload after a failed write."""
        self._forget_all()

    def _forget_all(self) -> None:
        self.head = None
        self.versions.clear()
        self.positions.clear()

    async def _send(
        self, events: Sequence[StoredEvent], tracking: Tracking | None, *, presume_new: bool
    ) -> SentBatch:
        subjects = [aggregate_subject(self.prefix, e.originator_id) for e in events]
        expected, presumed = await self._expectations(events, subjects, presume_new)
        position = await self._position(tracking) if tracking else None
        messages, digests = self._messages(events, subjects, expected, tracking, position)
        head = self.head
        new_hash = self._seal(messages, digests, len(events), tracking) if self.chained else None
        if self._inbox is None:
            self._inbox = AckInbox(self.nc)
            await self._inbox.start()
        ack = await send_atomic_batch(self.nc, self._inbox, messages, self.batch_limit)
        sent = SentBatch(ack, events, subjects, tracking, len(messages), presumed, head)
        self._in_flight += 1
        if head is not None and new_hash is not None:  # chained: the sequences are known now
            last = head.seq + len(messages)
            last_event = head.seq + len(events) if events else head.last_event
            self._remember(events, subjects, tracking, head.seq + 1)
            self.head = sent.expected_head = Head(last, new_hash, last_event)
        return sent

    async def _confirm(self, sent: SentBatch) -> list[int]:
        try:
            ack = await await_ack(sent.ack, self.timeout, f"{self.stream} batch")
        except BatchRefusedError as err:
            self._in_flight -= 1
            if err.err_code == ERR_BATCH_TOO_LARGE:
                self._smaller_batches(err)  # the caller sees a failed write, and retries
            if err.err_code not in CONFLICT_CODES:
                raise
            self._undo(sent)
            if sent.presumed:
                raise _PresumedNewError(err.description) from err
            raise IntegrityError(f"{self.stream} refused the write: {err.description}") from err
        except BaseException:
            self._in_flight -= 1
            raise
        self._in_flight -= 1
        first = int(ack["seq"]) - sent.count + 1
        prev = sent.prev_head
        if prev is not None and first != prev.seq + 1:
            self._forget_all()
            raise DatabaseError(f"{self.stream}: batch stored at {first}, expected {prev.seq + 1}")
        if prev is None:  # unchained: learn the sequences from the ack
            self._remember(sent.events, sent.subjects, sent.tracking, first)
        return [first + i for i in range(len(sent.events))]

    def _undo(self, sent: SentBatch) -> None:
        """A refused write: take back what was presumed of it. With other writes still in
        flight (all doomed by the fence) nothing presumed can be trusted: forget it all."""
        if self._in_flight or self.head is not sent.expected_head:
            self._forget_all()
            return
        self.head = sent.prev_head
        for subject in sent.subjects:
            self.versions.drop(subject)
        if sent.tracking is not None:
            self.positions.drop(tracking_subject(self.prefix, sent.tracking.application_name))

    async def _expectations(
        self, events: Sequence[StoredEvent], subjects: list[str], presume_new: bool
    ) -> tuple[dict[str, int], bool]:
        """Check versions; return subject -> expected last subject sequence, and whether
        any uncached aggregate was presumed new without a look-up."""
        firsts: dict[str, int] = {}
        lasts: dict[str, int] = {}
        for event, subject in zip(events, subjects, strict=True):
            version = event.originator_version
            if subject in lasts:
                self._check_follows(event, lasts[subject])
            else:
                firsts[subject] = version
            lasts[subject] = version
        new_ok = {0, 1} if self.contiguous and presume_new else set()
        misses = [s for s, v in firsts.items() if v not in new_ok and self.versions.get(s) is None]
        await self._look_up(misses)
        expected: dict[str, int] = {}
        presumed = False
        for event, subject in zip(events, subjects, strict=True):
            if subject in expected:
                continue
            cached = self.versions.get(subject)
            if cached is None:
                if self.contiguous and event.originator_version not in (0, 1):
                    raise IntegrityError(
                        f"{event.originator_id!r} has no events: its first version must be "
                        f"0 or 1, not {event.originator_version}"
                    )
                presumed = presumed or subject not in misses
                expected[subject] = 0
            else:
                self._check_follows(event, cached[0])
                expected[subject] = cached[1]
        return expected, presumed

    def _check_follows(self, event: StoredEvent, last_version: int) -> None:
        version = event.originator_version
        if version <= last_version or (self.contiguous and version != last_version + 1):
            raise IntegrityError(
                f"version {version} of {event.originator_id!r} does not follow "
                f"version {last_version}"
            )

    async def _look_up(self, subjects: list[str]) -> None:
        for i in range(0, len(subjects), LOOKUP_CHUNK):
            chunk = subjects[i : i + LOOKUP_CHUNK]
            found = await multi_last(self.nc, self.stream, chunk, timeout=self.timeout)
            for msg in found.messages:
                self.versions.put(msg.subject, int(msg.headers[VERSION_HEADER]), msg.seq)

    async def _position(self, tracking: Tracking) -> int:
        """Check ``tracking`` is past the recorded position; return the expected sequence."""
        subject = tracking_subject(self.prefix, tracking.application_name)
        known = self.positions.get(subject)
        if known is None:
            last = await direct_get_last(self.nc, self.stream, subject, self.timeout)
            if last is not None:
                recorded = int(json.loads(last.data)["notification_id"])
                self.positions.put(subject, recorded, last.seq)
            known = self.positions.get(subject)
        if known is None:
            return 0
        if tracking.notification_id <= known[0]:
            raise IntegrityError(
                f"tracking {tracking.notification_id} of {tracking.application_name!r} is not "
                f"after the recorded {known[0]}"
            )
        return known[1]

    def _messages(
        self,
        events: Sequence[StoredEvent],
        subjects: list[str],
        expected: dict[str, int],
        tracking: Tracking | None,
        position: int | None,
    ) -> tuple[list[_Message], list[bytes]]:
        messages: list[_Message] = []
        digests: list[bytes] = []
        for event, subject in zip(events, subjects, strict=True):
            version = event.originator_version
            headers = {TOPIC_HEADER: event.topic, VERSION_HEADER: str(version)}
            seq = expected.pop(subject, None)
            if seq is not None:  # only on the subject's first message in the batch
                headers[EXPECTED_LAST_SUBJECT_SEQ] = str(seq)
            messages.append((subject, event.state, headers))
            if self.chained:
                digests.append(event_digest(subject, event.topic, version, event.state))
        if tracking is not None:
            body = tracking_body(tracking)
            subject = tracking_subject(self.prefix, tracking.application_name)
            messages.append((subject, body, {EXPECTED_LAST_SUBJECT_SEQ: str(position or 0)}))
        return messages, digests

    def _seal(
        self,
        messages: list[_Message],
        digests: list[bytes],
        count: int,
        tracking: Tracking | None,
    ) -> bytes:
        """Add the fence to the first message and the commit record to the last."""
        head = self.head
        assert head is not None
        first_seq = head.seq + 1
        new_hash = chain_hash(head.hash, digests)
        record = CommitRecord(
            prev=head.hash.hex(),
            hash=new_hash.hex(),
            first_seq=first_seq,
            count=count,
            last_event=first_seq + count - 1 if count else head.last_event,
            tracking=json.loads(tracking_body(tracking)) if tracking else None,
            time=time.time_ns() // 1_000_000,
        )
        messages[0][2][EXPECTED_LAST_SEQ] = str(head.seq)
        messages[-1][2][COMMIT_HEADER] = record.to_header()
        return new_hash

    def _remember(
        self,
        events: Sequence[StoredEvent],
        subjects: list[str],
        tracking: Tracking | None,
        first: int,
    ) -> None:
        for i, (event, subject) in enumerate(zip(events, subjects, strict=True)):
            self.versions.put(subject, event.originator_version, first + i)
        if tracking is not None:
            subject = tracking_subject(self.prefix, tracking.application_name)
            self.positions.put(subject, tracking.notification_id, first + len(events))


def tracking_body(tracking: Tracking) -> bytes:
    """The JSON body of a tracking record."""
    record = {
        "application_name": tracking.application_name,
        "notification_id": tracking.notification_id,
    }
    return json.dumps(record, separators=(",", ":")).encode()
