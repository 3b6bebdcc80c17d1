"""LEDGER messages as the projections see them: raw messages, the batch, decoded events.

The wire format (one JetStream message per domain event, written by streams/persistence.py):

- subject ``<prefix>.<aggregate id>``, the aggregate id being ``<type>.<key>``;
- headers ``Hive-Topic`` (the event's topic, ``domain.wallet:Wallet.Credited``) and
  ``Hive-Version`` (the aggregate version); the last message of each atomic batch carries
  ``Hive-Commit``, the JSON commit record of the hash chain;
- data: the eventsourcing JSONTranscoder encoding of the event state.

Subjects ``<prefix>._<anything>`` are the ledger's bookkeeping (tracking records, or a
commit record published on ``<prefix>._commit``): never events. The ledger is trusted:
nothing here verifies signatures or the hash chain (streams/commit_chain.py does that).

Each batch is staged once into a TEMP table of the writer connection (``ledger_batch``,
one appender flush); the views read it with SQL through the TEMP view ``batch_events``.
Views that prefer Python call ``Batch.of(aggregate_type)``, which decodes lazily.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

TOPIC_HEADER = "Hive-Topic"
VERSION_HEADER = "Hive-Version"
COMMIT_HEADER = "Hive-Commit"
COMMIT_SUBJECT = "_commit"
DECIDED_TOPIC_SUFFIX = ":TxRecord.Decided"

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


StageRow = tuple[int, str, str | None, int | None, str | None, str | None]
_NO_HEADERS: dict[str, str] = {}


@dataclass(slots=True)
class Staged:
    """A batch made ready for ``ledger_batch``, with what the runner reports about it."""

    rows: list[StageRow]
    events: int  # rows that are events (the rest is bookkeeping)
    txids: list[str]  # the transactions decided (accepted or rejected), in ledger order


def stage_rows(raws: Sequence[RawMsg], prefix: str) -> Staged:
    """``ledger_batch`` rows: (seq, subject, topic, version, data, commit record), and the
    decided transactions' ids, in one pass.

    Bookkeeping messages get no topic (so no view takes them for events); a commit record,
    in a header or on ``<prefix>._commit``, lands in the last column.
    """
    rows: list[StageRow] = []
    txids: list[str] = []
    start = len(prefix) + 1
    tx_head = f"{prefix}.tx."
    bookkeeping = 0
    for seq, subject, headers, payload, _ in raws:
        headers = headers or _NO_HEADERS
        commit = headers.get(COMMIT_HEADER)
        if subject.startswith("_", start):
            if subject[start:] == COMMIT_SUBJECT:
                commit = payload.decode("utf-8", "replace")
            rows.append((seq, subject, None, None, None, commit))
            bookkeeping += 1
            continue
        topic, version = headers.get(TOPIC_HEADER), headers.get(VERSION_HEADER)
        if topic is None or version is None or not version.isdigit():
            raise ProjectionError(f"seq {seq} ({subject}): event without topic or version")
        try:
            data = payload.decode()
        except UnicodeDecodeError:
            raise ProjectionError(f"seq {seq} ({subject}): data is not UTF-8") from None
        rows.append((seq, subject, topic, int(version), data, commit))
        if topic.endswith(DECIDED_TOPIC_SUFFIX) and subject.startswith(tx_head):
            txids.append(subject[len(tx_head) :])
    return Staged(rows, len(rows) - bookkeeping, txids)


@dataclass(slots=True)
class LedgerEvent:
    """A decoded event, for views written in Python."""

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


@dataclass(slots=True)
class Batch:
    """Consecutive messages ``first_seq..last_seq``; a view applies those after ``since``."""

    raws: Sequence[RawMsg]
    prefix: str
    since: int = 0
    _decoded: dict[str, list[LedgerEvent]] = field(default_factory=dict)
    _counts: dict[tuple[str, ...], dict[str, Counter[str]]] = field(default_factory=dict)

    @property
    def first_seq(self) -> int:
        return self.raws[0].seq

    @property
    def last_seq(self) -> int:
        return self.raws[-1].seq

    @property
    def published_ns(self) -> int:
        return self.raws[-1].published_ns

    def after(self, seq: int) -> Batch:
        """The part of this batch a view at position ``seq`` has not applied yet."""
        return self if seq <= self.since else Batch(self.raws, self.prefix, seq)

    def of(self, aggregate_type: str) -> list[LedgerEvent]:
        """The decoded events of one aggregate type (``"chain"``) after ``since``."""
        if aggregate_type not in self._decoded:
            head = f"{self.prefix}.{aggregate_type}."
            self._decoded[aggregate_type] = [
                decode_event(raw, self.prefix)
                for raw in self.raws
                if raw.seq > self.since and raw.subject.startswith(head)
            ]
        return self._decoded[aggregate_type]

    def counts(self, kinds: tuple[str, ...]) -> dict[str, Counter[str]]:
        """Event types per aggregate type of ``kinds`` after ``since`` (``{"task":
        {"Task.Joined": 2}}``), from the subjects and topic headers. One pass per batch and
        ``kinds``, kept: the views given this batch (all of them, unless one is catching
        up) share it."""
        found = self._counts.get(kinds)
        if found is None:
            start = len(self.prefix) + 1
            heads = tuple(f"{self.prefix}.{kind}." for kind in kinds)
            found = self._counts[kinds] = {kind: Counter() for kind in kinds}
            for raw in self.raws:
                if raw.seq > self.since and raw.subject.startswith(heads):
                    kind = raw.subject[start : raw.subject.index(".", start)]
                    topic = (raw.headers or {}).get(TOPIC_HEADER, "")
                    found[kind][topic.rpartition(":")[2]] += 1
        return found


def decode_event(raw: RawMsg, prefix: str) -> LedgerEvent:
    headers = raw.headers or {}
    topic, version = headers.get(TOPIC_HEADER), headers.get(VERSION_HEADER)
    if topic is None or version is None:
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): event without topic or version")
    try:
        state = _json_decode(raw.data)
    except msgspec.DecodeError as err:
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): not JSON: {err}") from None
    if not isinstance(state, dict):
        raise ProjectionError(f"seq {raw.seq} ({raw.subject}): event state is not an object")
    stamp = state.pop("timestamp", None)
    time = None
    if isinstance(stamp, dict) and stamp.get("_type_") == "datetime_iso":
        time = datetime.fromisoformat(stamp["_data_"])
    aggregate_id = raw.subject[len(prefix) + 1 :]
    aggregate_type, _, key = aggregate_id.partition(".")
    return LedgerEvent(
        seq=raw.seq,
        subject=raw.subject,
        aggregate_id=aggregate_id,
        aggregate_type=aggregate_type,
        aggregate_key=key,
        version=int(version),
        topic=topic,
        type=topic.rpartition(":")[2],
        time=time,
        state=state,
    )
