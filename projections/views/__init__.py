"""The projections' views. Each file holds one; ``DEFAULT_VIEWS`` is what a node runs."""

from __future__ import annotations

from projections.views.base import View
from projections.views.chain import ChainView
from projections.views.commits import CommitsView
from projections.views.events import EventsView
from projections.views.transactions import TransactionsView
from projections.views.wallets import WalletsView


def default_views() -> list[View]:
    """A fresh instance of every view a node maintains."""
    return [EventsView(), WalletsView(), TransactionsView(), ChainView(), CommitsView()]


__all__ = [
    "ChainView",
    "CommitsView",
    "EventsView",
    "TransactionsView",
    "View",
    "WalletsView",
    "default_views",
]
