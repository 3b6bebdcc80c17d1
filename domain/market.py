"""The market: which tasks are not final yet and when each falls due, and how much money
is locked in tasks and validator stakes. The sequencer's clock reads it each batch."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate


class Market(LedgerAggregate):
    @staticmethod
    def create_id(chain_id: str) -> str:
        return f"market.{chain_id}"

    @event("Opened")
    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.due: dict[str, int] = {}  # task id -> when the sequencer must look at it (ms)
        self.locked = 0  # escrow + task stakes + validator stakes, in units
        self.validator_stake = 0
        self.rewards_paid = 0
        self.validated = 0  # submissions that reached consensus

    def due_tasks(self, now: int) -> list[str]:
        return sorted(t for t, at in self.due.items() if at <= now)

    @event("TaskDue")
    def set_due(self, task_id: str, at: int) -> None:
        self.due[task_id] = at

    @event("TaskFinal")
    def drop_due(self, task_id: str) -> None:
        self.due.pop(task_id, None)

    @event("Locked")
    def lock(self, amount: int, validator: bool) -> None:
        assert amount > 0
        self.locked += amount
        if validator:
            self.validator_stake += amount

    @event("Released")
    def release(self, amount: int, rewards: int, validated: int) -> None:
        assert 0 <= amount <= self.locked
        self.locked -= amount
        self.rewards_paid += rewards
        self.validated += validated
