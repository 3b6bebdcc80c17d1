"""Miners and validators: who they are, and the record of how they did."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate

START_REPUTATION = 100


class Miner(LedgerAggregate):
    """Seed 000's MinerStats come from here: reputation, completed, failed, earnings."""

    @staticmethod
    def create_id(address: str) -> str:
        return f"miner.{address}"

    @event("Registered")
    def __init__(
        self, address: str, miner_id: str, skills: list[str], specializations: list[str],
        contact: dict[str, str], registered_at: int,
    ) -> None:  # fmt: skip
        self.address = address
        self.miner_id = miner_id
        self.skills = list(skills)
        self.specializations = list(specializations)
        self.contact = dict(contact)
        self.reputation = START_REPUTATION
        self.completed = 0
        self.failed = 0
        self.earnings = 0

    @event("TaskCompleted")
    def completed_task(self, task_id: str, earned: int, reputation_delta: int) -> None:
        self.completed += 1
        self.earnings += earned
        self.reputation = max(0, self.reputation + reputation_delta)

    @event("TaskFailed")
    def failed_task(self, task_id: str, reputation_delta: int) -> None:
        self.failed += 1
        self.reputation = max(0, self.reputation + reputation_delta)

    @event("Penalized")
    def penalize(self, fraud_id: str, reputation_delta: int) -> None:
        self.reputation = max(0, self.reputation + reputation_delta)


class Validator(LedgerAggregate):
    """A validator's stake is locked here while it is registered; it weighs its votes."""

    @staticmethod
    def create_id(address: str) -> str:
        return f"validator.{address}"

    @event("Registered")
    def __init__(self, address: str, stake: int, registered_at: int) -> None:
        self.address = address
        self.stake = stake
        self.reputation = START_REPUTATION
        self.votes = 0
        self.agreed = 0
        self.outliers = 0

    @event("VoteCast")
    def cast(self, submission_id: str, score: int) -> None:
        self.votes += 1

    @event("Judged")
    def judge(self, task_id: str, agreed: int, outliers: int, reputation_delta: int) -> None:
        """One event per validator per settled task: how its votes compared to consensus."""
        self.agreed += agreed
        self.outliers += outliers
        self.reputation = max(0, self.reputation + reputation_delta)
