"""LEDGER messages as the projections see them: decoded events, commit records, batches.

The wire format (one JetStream message per domain event, written by streams/):

- subject ``<prefix>.<aggregate id>``, the aggregate id being ``<type>.<key>``;
- headers ``Hive-Topic`` (the event's topic, ``domain.wallet:Wallet.Credited``) and
  ``Hive-Version`` (the aggregate version); the last message of each atomic batch may carry
  ``Hive-Commit``, the JSON commit record of the hash chain;
- data: the eventsourcing JSONTranscoder encoding of the event state.

Subjects ``<prefix>._<anything>`` are the ledger's bookkeeping (tracking records, commit
records published on their own subject): they are never events. The ledger is trusted:
nothing here verifies signatures or the hash chain (streams/commit_chain.py does that).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

TOPIC_HEADER = "Hive-Topic"
VERSION_HEADER = "Hive-Version"
COMMIT_HEADER = "Hive-Commit"
COMMIT_SUBJECT = "_commit"

_json_decode = msgspec.json.Decoder().decode
json_encode = msgspec.json.Encoder().encode


class ProjectionError(Exception):
    """A LEDGER message the projections cannot apply: a bug or foreign data, never skipped."""


class RawMsg(NamedTuple):
    """One stored message, independent of the client that read it."""

    seq: int
    subject: str
    headers: dict[str, str] | None
    data: bytes
    published_ns: int  # the JetStream storage timestamp, unix ns (0 if unknown)


@dataclass(slots=True)
class LedgerEvent:
    seq: int
    subject: str
    aggregate_id: str
    aggregate_type: str
    aggregate_key: str
    version: int
    topic: str
    type: str  # the topic's qualname: "Wallet.Credited"
    time: datetime | None
    state: dict[str, Any]  # the event's attributes, without "timestamp"
    derived: dict[str, Any] = field(default_factory=dict)  # per-batch cache for views

    @property
    def txid(self) -> str | None:
        value = self.state.get("txid", self.state.get("tx"))
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class CommitRow:
    seq: int
    record: dict[str, Any]


@dataclass(slots=True)
class Batch:
    """Decoded messages ``first_seq..last_seq`` (bookkeeping ones skipped, not lost)."""

    first_seq: int
    last_seq: int
    events: list[LedgerEvent]
    commits: list[CommitRow]
    published_ns: int = 0  # timestamp of the last message
    _by_type: dict[str, list[LedgerEvent]] | None = None

    def of(self, aggregate_type: str) -> list[LedgerEvent]:
        """The events of one aggregate type (``"wallet"``), in ledger order."""
        if self._by_type is None:
            groups: dict[str, list[LedgerEvent]] = {}
            for event in self.events:
                groups.setdefault(event.aggregate_type, []).append(event)
            self._by_type = groups
        return self._by_type.get(aggregate_type, [])

    def after(self, seq: int) -> Batch:
        """The part of this batch a view at position ``seq`` has not applied yet."""
        if seq < self.first_seq:
            return self
        return Batch(
            first_seq=seq + 1,
            last_seq=self.last_seq,
            events=[e for e in self.events if e.seq > seq],
            commits=[c for c in self.commits if c.seq > seq],
            published_ns=self.published_ns,
        )

    def txids(self) -> list[str]:
        """The transaction ids decided (accepted or rejected) in this batch."""
        return [e.aggregate_key for e in self.of("tx") if e.type == "TxRecord.Decided"]


def event_type(topic: str) -> str:
    """``domain.wallet:Wallet.Credited`` -> ``Wallet.Credited``."""
    return topic.rpartition(":")[2]


def _time_of(value: Any) -> datetime | None:
    if isinstance(value, dict) and value.get("_type_") == "datetime_iso":
        return datetime.fromisoformat(value["_data_"])
    return None


def _flatten(state: dict[str, Any]) -> dict[str, Any]:
    """Top-level transcoded values (``{"_type_": ..., "_data_": ...}``) become their data."""
    for key, value in state.items():
        if type(value) is dict and "_type_" in value and "_data_" in value:
            state[key] = value["_data_"]
    return state


def decode_event(raw: RawMsg, prefix: str) -> LedgerEvent | CommitRow | None:
    """One message as an event, a commit record (own subject) or None (other bookkeeping)."""
    rest = raw.subject[len(prefix) + 1 :]
    if rest.startswith("_"):
        if rest == COMMIT_SUBJECT:
            return CommitRow(raw.seq, _decode_json(raw.data, raw))
        return None
    headers = raw.headers or {}
    topic = headers.get(TOPIC_HEADER)
    version = headers.get(VERSION_HEADER)
    if topic is None or version is None:
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): event without topic or version")
    state = _decode_json(raw.data, raw)
    if not isinstance(state, dict):
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): event state is not an object")
    aggregate_type, _, key = rest.partition(".")
    return LedgerEvent(
        seq=raw.seq,
        subject=raw.subject,
        aggregate_id=rest,
        aggregate_type=aggregate_type,
        aggregate_key=key,
        version=int(version),
        topic=topic,
        type=event_type(topic),
        time=_time_of(state.pop("timestamp", None)),
        state=_flatten(state),
    )


def _decode_json(data: bytes, raw: RawMsg) -> Any:
    try:
        return _json_decode(data)
    except msgspec.DecodeError as err:
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): not JSON: {err}") from None


def decode_batch(raws: Sequence[RawMsg], prefix: str) -> Batch:
    """Decode consecutive messages; raises ProjectionError on anything not understood."""
    events: list[LedgerEvent] = []
    commits: list[CommitRow] = []
    for raw in raws:
        item = decode_event(raw, prefix)
        if type(item) is LedgerEvent:
            events.append(item)
        elif type(item) is CommitRow:
            commits.append(item)
        if raw.headers and COMMIT_HEADER in raw.headers:
            record = _decode_json(raw.headers[COMMIT_HEADER].encode(), raw)
            commits.append(CommitRow(raw.seq, record))
    return Batch(
        first_seq=raws[0].seq,
        last_seq=raws[-1].seq,
        events=events,
        commits=commits,
        published_ns=raws[-1].published_ns,
    )


def decode_envelope_body(envelope: str) -> dict[str, Any] | None:
    """The body of a DSSE envelope given as base64 of its JSON; None if it does not decode.

    No verification: the ledger only holds what the sequencer verified (or a rejection,
    whose envelope may be garbage, hence None rather than an error).
    """
    try:
        outer = _json_decode(base64.b64decode(envelope, validate=True))
        body = _json_decode(base64.b64decode(outer["payload"], validate=True))
    except (binascii.Error, msgspec.DecodeError, KeyError, TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def ms_to_datetime(ms: int | None) -> datetime | None:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def as_int(value: Any) -> int | None:
    """An integer field from JSON, or None (bools and floats are not amounts)."""
    return value if type(value) is int else None
