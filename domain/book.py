"""The aggregates one sequencer batch works on, loaded on demand through a port."""

from __future__ import annotations

from collections.abc import Callable

from domain.base import LedgerAggregate
from domain.chain import Chain
from domain.wallet import Wallet

WalletLoader = Callable[[str], Wallet | None]


class Book:
    """Holds the chain and the wallets a batch touches; remembers which changed.

    ``load_wallet`` is the port to storage (the sequencer's cache or repository). The
    book never reads a clock and never does I/O itself.
    """

    def __init__(self, chain: Chain, load_wallet: WalletLoader) -> None:
        self.chain = chain
        self._load_wallet = load_wallet
        self._wallets: dict[str, Wallet | None] = {}
        self.changed: dict[str, LedgerAggregate] = {}

    def wallet(self, address: str) -> Wallet | None:
        """The wallet at ``address``, or None when it never opened."""
        if address not in self._wallets:
            self._wallets[address] = self._load_wallet(address)
        return self._wallets[address]

    def open_wallet(self, address: str) -> Wallet:
        """The wallet at ``address``, opened now if it never was."""
        wallet = self.wallet(address)
        if wallet is None:
            wallet = Wallet(address=address)
            self._wallets[address] = wallet
        self.changed[wallet.id] = wallet
        return wallet

    def touch(self, aggregate: LedgerAggregate) -> None:
        self.changed[aggregate.id] = aggregate

    def wallets(self) -> list[Wallet]:
        return [w for w in self._wallets.values() if w is not None]
