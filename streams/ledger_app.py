"""The ledger's eventsourcing application: loads aggregates, records batches atomically.

Persistence is whatever ``PERSISTENCE_MODULE`` names: ``streams.persistence`` (JetStream)
for nodes, ``eventsourcing.popo`` for fast unit tests. The sequencer is its only writer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import ProcessRecorder, Recording, Tracking

from domain.base import LedgerAggregate
from domain.chain import Chain
from domain.wallet import Wallet


class WalletCache:
    """A bounded LRU of wallets; the sequencer's working set stays in memory."""

    def __init__(self, maxsize: int = 200_000) -> None:
        assert maxsize > 0
        self.maxsize = maxsize
        self._items: OrderedDict[str, Wallet | None] = OrderedDict()

    def get(self, address: str) -> tuple[bool, Wallet | None]:
        if address in self._items:
            self._items.move_to_end(address)
            return True, self._items[address]
        return False, None

    def put(self, address: str, wallet: Wallet | None) -> None:
        self._items[address] = wallet
        self._items.move_to_end(address)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class LedgerApplication(Application[str]):
    """Aggregates by id, with a wallet cache; atomic saves with an upstream tracking record."""

    name = "Ledger"

    def __init__(self, env: dict[str, str] | None = None, cache_size: int = 200_000) -> None:
        super().__init__(env)
        self.wallets = WalletCache(cache_size)

    def construct_recorder(self) -> ProcessRecorder:
        """A process recorder: events and the upstream (INTAKE) position in one write."""
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def get_or_none(self, aggregate_id: str) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def load_wallet(self, address: str) -> Wallet | None:
        hit, wallet = self.wallets.get(address)
        if not hit:
            wallet = self.get_or_none(Wallet.create_id(address))
            self.wallets.put(address, wallet)
        return wallet

    def load_chain(self, chain_id: str) -> Chain | None:
        chain: Chain | None = self.get_or_none(Chain.create_id(chain_id))
        return chain

    def exists(self, aggregate_id: str) -> bool:
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    def record(
        self, aggregates: Iterable[LedgerAggregate], tracking: Tracking | None = None
    ) -> Sequence[Recording[str]]:
        """Save every pending event of ``aggregates`` (and ``tracking``) in one atomic write."""
        processing = ProcessingEvent[str](tracking)
        changed = list(aggregates)
        processing.collect_events(*changed)
        recordings = self._record(processing)
        for aggregate in changed:
            if isinstance(aggregate, Wallet):
                self.wallets.put(aggregate.address, aggregate)
        return recordings

    def forget(self) -> None:
        """Drop every cached aggregate: after a refused write, memory may be ahead of the store."""
        self.wallets.clear()
