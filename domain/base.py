"""The base class of hiveledger's aggregates: eventsourcing aggregates with string ids.

Ids read as "<type>.<key>" (``wallet.hive1...``, ``tx.<hex>``, ``chain.dev``), which the
JetStream persistence module turns into one subject per aggregate:
``hive.ledger.<type>.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import (
    BaseAggregate,
    CanCreateTimestamp,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)


@dataclass(frozen=True)
class LedgerEvent(CanMutateAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    originator_id: str
    originator_version: int
    timestamp: datetime


@dataclass(frozen=True)
class LedgerCreated(CanInitAggregate[str], LedgerEvent):
    originator_topic: str


class LedgerAggregate(BaseAggregate[str]):
    """An aggregate whose id is ``<type>.<key>``."""

    class Event(LedgerEvent):
        pass

    class Created(Event, LedgerCreated):
        pass
