"""What the sequencer keeps between batches: its counters, the ids it decided, the write
in flight."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from streams.ledger_app import PendingRecord


@dataclass
class SequencerStats:
    """Counters of batches this sequencer has confirmed (a batch abandoned after a failed
    write is counted again when it is decided anew, not before)."""

    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    position: int = 0
    retries: int = 0
    ticks: int = 0
    transient_errors: int = 0
    seconds_check: float = 0.0
    seconds_execute: float = 0.0
    seconds_record: float = 0.0  # encoding and sending writes
    seconds_wait: float = 0.0  # waiting for acks not hidden behind the next batch
    last_batch_size: int = 0
    ready: int = 0  # 1 once the check stage has answered a read (start-up is over); stays 1
    started_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class InFlight:
    """A batch decided and sent, its ack not yet confirmed."""

    pending: PendingRecord
    last_seq: int  # the intake position it records
    txids: list[str]
    size: int
    accepted: int
    rejected: int
    duplicates: int


class SeenIds:
    """Transaction ids decided since start: a bounded, insertion-ordered set."""

    def __init__(self, maxsize: int = 1_000_000) -> None:
        self.maxsize = maxsize
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, txid: object) -> bool:
        return txid in self._ids

    def add_all(self, txids: list[str]) -> None:
        for txid in txids:
            self._ids[txid] = None
        while len(self._ids) > self.maxsize:
            self._ids.popitem(last=False)
