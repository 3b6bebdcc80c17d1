"""The LEDGER's hash chain: every atomic batch ends with a commit record that chains it to
the previous one, so a copy of the stream can be checked by anyone, offline.

The commit record is the compact JSON value of header ``Hive-Commit`` on the last message of
each batch (see streams/persistence.py for the whole wire format)::

    {"prev": hex, "hash": hex, "first_seq": int, "count": int, "last_event": int,
     "tracking": {"application_name": str, "notification_id": int} | null, "time": unix ms}

    hash = SHA-256(prev_hash_bytes || digest(e1) || ... || digest(en))
    digest(e) = SHA-256(subject || 0x0A || topic || 0x0A || version (ASCII) || 0x0A || data)

over the batch's event messages in stream order (tracking records are not hashed). ``prev``
of the first commit is 64 zeros. ``first_seq`` is the batch's first stream sequence,
``count`` its number of event messages, ``last_event`` the sequence of the newest event
message in the ledger once the batch is stored (0 if none).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from nats.aio.client import Client as NATS

from streams.jetstream import StoredMsg, iter_stream
from streams.subjects import TRACKING, is_reserved

GENESIS = bytes(32)
COMMIT_HEADER = "Hive-Commit"
TOPIC_HEADER = "Hive-Topic"
VERSION_HEADER = "Hive-Version"


class ChainError(Exception):
    """The stream is not a valid chain at ``seq``: tampered, truncated or foreign data."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"ledger chain broken at stream sequence {seq}: {reason}")
        self.seq = seq
        self.reason = reason


def event_digest(subject: str, topic: str, version: int, data: bytes) -> bytes:
    """SHA-256 of one event message, as it enters the chain."""
    head = f"{subject}\n{topic}\n{version}\n".encode()
    return hashlib.sha256(head + data).digest()


def chain_hash(prev: bytes, digests: Iterable[bytes]) -> bytes:
    """The hash of a commit: SHA-256 of the previous hash then each event digest."""
    h = hashlib.sha256(prev)
    for digest in digests:
        h.update(digest)
    return h.digest()


@dataclass(frozen=True, slots=True)
class CommitRecord:
    prev: str
    hash: str
    first_seq: int
    count: int
    last_event: int
    tracking: dict[str, Any] | None
    time: int

    def to_header(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_header(cls, value: str, seq: int = 0) -> CommitRecord:
        try:
            raw = json.loads(value)
            return cls(
                prev=str(raw["prev"]),
                hash=str(raw["hash"]),
                first_seq=int(raw["first_seq"]),
                count=int(raw["count"]),
                last_event=int(raw["last_event"]),
                tracking=raw["tracking"],
                time=int(raw["time"]),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ChainError(seq, f"malformed commit record: {err}") from None


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where a chain stands after its last commit."""

    seq: int = 0  # stream sequence of the last commit's message
    hash: bytes = GENESIS
    last_event: int = 0
    commits: int = 0
    events: int = 0


class _Batch:
    """The messages seen since the last commit."""

    def __init__(self) -> None:
        self.first_seq = 0
        self.digests: list[bytes] = []
        self.last_event = 0
        self.tracking: dict[str, Any] | None = None


class ChainVerifier:
    """Feed it a ledger copy message by message, in sequence order; ``finish()`` gives the
    head. Raises ``ChainError`` at the first gap, altered event, broken link, wrong count or
    message not covered by a commit. Start from ``start`` to verify a suffix."""

    def __init__(self, prefix: str, start: ChainState | None = None) -> None:
        self.prefix = prefix
        self.state = start or ChainState()
        self._batch = _Batch()
        self._expected = self.state.seq + 1
        self._last_event = self.state.last_event

    def feed(self, msg: StoredMsg) -> None:
        if msg.seq != self._expected:
            raise ChainError(self._expected, f"message missing (next present is {msg.seq})")
        self._expected += 1
        batch = self._batch
        batch.first_seq = batch.first_seq or msg.seq
        self._take(msg)
        self._last_event = batch.last_event or self._last_event
        value = msg.headers.get(COMMIT_HEADER)
        if value is None:
            return
        record = CommitRecord.from_header(value, msg.seq)
        state = self.state
        new_hash = _check_commit(msg.seq, record, state, batch, self._last_event)
        self.state = ChainState(
            msg.seq,
            new_hash,
            self._last_event,
            state.commits + 1,
            state.events + len(batch.digests),
        )
        self._batch = _Batch()

    def finish(self) -> ChainState:
        if self._batch.first_seq:
            raise ChainError(self._batch.first_seq, "messages after the last commit record")
        return self.state

    def _take(self, msg: StoredMsg) -> None:
        batch = self._batch
        if is_reserved(self.prefix, msg.subject):
            if msg.subject.startswith(f"{self.prefix}.{TRACKING}."):
                try:
                    batch.tracking = json.loads(msg.data)
                except ValueError:
                    raise ChainError(msg.seq, "malformed tracking record") from None
            return
        try:
            topic = msg.headers[TOPIC_HEADER]
            version = int(msg.headers[VERSION_HEADER])
        except (KeyError, ValueError):
            raise ChainError(msg.seq, "event message without topic or version") from None
        batch.digests.append(event_digest(msg.subject, topic, version, msg.data))
        batch.last_event = msg.seq


def verify_chain(
    messages: Iterable[StoredMsg], prefix: str, start: ChainState | None = None
) -> ChainState:
    """Verify a ledger copy (messages in sequence order, starting right after ``start``,
    default the beginning of the stream) and return its head. See ``ChainVerifier``."""
    verifier = ChainVerifier(prefix, start)
    for msg in messages:
        verifier.feed(msg)
    return verifier.finish()


def _check_commit(
    seq: int, record: CommitRecord, state: ChainState, batch: _Batch, last_event: int
) -> bytes:
    if record.prev != state.hash.hex():
        raise ChainError(seq, "commit does not link to the previous commit")
    if record.first_seq != batch.first_seq or record.count != len(batch.digests):
        raise ChainError(seq, "commit does not cover exactly the messages of its batch")
    if record.last_event != last_event:
        raise ChainError(seq, "commit names the wrong last event")
    if record.tracking != batch.tracking:
        raise ChainError(seq, "commit and tracking record disagree")
    new_hash = chain_hash(state.hash, batch.digests)
    if record.hash != new_hash.hex():
        raise ChainError(seq, "event data does not match the commit hash")
    return new_hash


async def verify_stream(
    nc: NATS, stream: str, prefix: str, *, page: int = 1000, timeout: float = 10.0
) -> ChainState:
    """Read the whole LEDGER stream through batch Direct Get, verifying as it comes."""
    verifier = ChainVerifier(prefix)
    async for msg in iter_stream(nc, stream, f"{prefix}.>", 1, page=page, timeout=timeout):
        verifier.feed(msg)
    return verifier.finish()
