"""The projections' views. Each file holds one; ``DEFAULT_VIEWS`` is what a node runs."""

from __future__ import annotations

from projections.views.base import View
from projections.views.chain import ChainView
from projections.views.commits import CommitsView
from projections.views.events import EventsView
from projections.views.market import MarketView
from projections.views.market_fraud import FraudAlertsView
from projections.views.market_participants import ParticipantsView
from projections.views.market_submissions import SubmissionsView
from projections.views.market_tasks import TasksView
from projections.views.transactions import TransactionsView
from projections.views.wallets import WalletsView


def default_views() -> list[View]:
    """A fresh instance of every view a node maintains. Transactions last: its
    ``projected_at`` is then read just before the batch commits."""
    return [
        EventsView(), WalletsView(), ChainView(), CommitsView(), TasksView(),
        SubmissionsView(), ParticipantsView(), FraudAlertsView(), MarketView(),
        TransactionsView(),
    ]  # fmt: skip


__all__ = [
    "ChainView",
    "CommitsView",
    "EventsView",
    "FraudAlertsView",
    "MarketView",
    "ParticipantsView",
    "SubmissionsView",
    "TasksView",
    "TransactionsView",
    "View",
    "WalletsView",
    "default_views",
]
