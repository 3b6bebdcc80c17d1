"""The aggregates one sequencer batch works on, loaded on demand through a port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.base import LedgerAggregate
from domain.chain import Chain
from domain.market import Market
from domain.wallet import Wallet

WalletLoader = Callable[[str], Wallet | None]
Loader = Callable[[str], LedgerAggregate | None]


def _nothing(_: str) -> None:
    return None


class Book:
    """Holds the chain and the wallets a batch touches; remembers which changed.

    ``load_wallet`` is the port to storage (the sequencer's cache or repository). The
    book never reads a clock and never does I/O itself.
    """

    def __init__(
        self,
        chain: Chain,
        load_wallet: WalletLoader,
        load: Loader = _nothing,
        market: Market | None = None,
    ) -> None:
        self.chain = chain
        self.market = market
        self._load_wallet = load_wallet
        self._load = load
        self._wallets: dict[str, Wallet | None] = {}
        self._others: dict[str, LedgerAggregate | None] = {}
        self.changed: dict[str, LedgerAggregate] = {}

    def get(self, aggregate_id: str) -> Any:
        """Any other aggregate by id (task, submission, miner, ...), or None."""
        if aggregate_id not in self._others:
            self._others[aggregate_id] = self._load(aggregate_id)
        return self._others[aggregate_id]

    def add(self, aggregate: LedgerAggregate) -> None:
        """A new aggregate created in this book."""
        self._others[aggregate.id] = aggregate
        self.changed[aggregate.id] = aggregate

    def wallet(self, address: str) -> Wallet | None:
        """The wallet at ``address``, or None when it never opened."""
        if address not in self._wallets:
            self._wallets[address] = self._load_wallet(address)
        return self._wallets[address]

    def open_wallet(self, address: str) -> Wallet:
        """The wallet at ``address``, opened now if it never was."""
        wallet = self.wallet(address)
        if wallet is None:
            wallet = Wallet.open(address)
            self._wallets[address] = wallet
        self.changed[wallet.id] = wallet
        return wallet

    def touch(self, aggregate: LedgerAggregate) -> None:
        self.changed[aggregate.id] = aggregate

    def mark(self) -> dict[str, int]:
        """How many pending events each changed aggregate has now (see ``events_since``)."""
        return {key: len(agg.pending_events) for key, agg in self.changed.items()}

    def events_since(self, mark: dict[str, int]) -> list[Any]:
        return [
            e for key, agg in self.changed.items() for e in agg.pending_events[mark.get(key, 0) :]
        ]

    def wallets(self) -> list[Wallet]:
        return [w for w in self._wallets.values() if w is not None]
