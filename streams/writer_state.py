"""What the ledger writer remembers between writes: versions, the head, writes in flight."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent, Tracking

from streams.commit_chain import GENESIS


class VersionCache:
    """Bounded LRU: key -> (last version or position, stream sequence of that message).

    Used only on the event-loop thread (writes and reads both run there): no lock.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def get(self, key: str) -> tuple[int, int] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, version: int, seq: int) -> None:
        """Remember (version, seq) unless a newer message is already known."""
        items = self._items
        known = items.get(key)
        if known is not None:
            if known[1] >= seq:
                return
            items.move_to_end(key)
        items[key] = (version, seq)
        if len(items) > self.maxsize:
            items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


@dataclass(frozen=True, slots=True)
class Head:
    """The last commit: its stream sequence, hash and the newest event's sequence."""

    seq: int = 0
    hash: bytes = GENESIS
    last_event: int = 0


@dataclass(slots=True)
class SentBatch:
    """A write on its way: the future of its ack, and what is needed to settle it."""

    ack: asyncio.Future[dict[str, Any]]
    events: Sequence[StoredEvent]
    subjects: list[str]
    tracking: Tracking | None
    count: int  # messages, tracking included
    presumed: bool  # an uncached aggregate was presumed new without a look-up
    prev_head: Head | None
    expected_head: Head | None = None
