"""Conservation, checked on the events themselves: money only moves between wallets and the
market's locks, and only a mint creates it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INTO_WALLETS = "Wallet.Credited"
OUT_OF_WALLETS = "Wallet.Debited"
INTO_LOCKS = "Market.Locked"
OUT_OF_LOCKS = "Market.Released"
CREATED = "Chain.Minted"


def net_flows(events: Iterable[Any]) -> tuple[int, int]:
    """(change of money held in wallets and locks, money created) over ``events``."""
    held = created = 0
    for e in events:
        name = type(e).__qualname__
        if name in (INTO_WALLETS, INTO_LOCKS):
            held += e.amount
        elif name in (OUT_OF_WALLETS, OUT_OF_LOCKS):
            held -= e.amount
        elif name == CREATED:
            created += e.amount
    return held, created


def assert_conserved(events: Iterable[Any]) -> None:
    held, created = net_flows(list(events))
    assert held == created, f"money not conserved: held changed by {held}, created {created}"
