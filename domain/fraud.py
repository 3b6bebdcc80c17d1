"""Fraud alerts (seed 001's FraudAlert): reported, confirmed by validator stake, enforced."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate
from domain.errors import ErrorCode, LedgerError

OPEN, CONFIRMED = "open", "confirmed"


class FraudAlert(LedgerAggregate):
    @staticmethod
    def create_id(fraud_id: str) -> str:
        return f"fraud.{fraud_id}"

    @event("Reported")
    def __init__(
        self, fraud_id: str, reporter: str, accused: str, task_id: str, submission_id: str,
        kind: str, evidence_hash: str, reported_at: int,
    ) -> None:  # fmt: skip
        self.fraud_id = fraud_id
        self.reporter = reporter
        self.accused = accused
        self.task_id = task_id
        self.submission_id = submission_id
        self.kind = kind
        self.evidence_hash = evidence_hash
        self.status = OPEN
        self.confirmations: dict[str, int] = {}  # validator -> stake

    @property
    def confirmed_stake(self) -> int:
        return sum(self.confirmations.values())

    def check_can_confirm(self, validator: str) -> None:
        if self.status != OPEN:
            raise LedgerError(
                ErrorCode.FRAUD_CLOSED, f"fraud alert {self.fraud_id} is {self.status}"
            )
        if validator in self.confirmations:
            raise LedgerError(ErrorCode.ALREADY_CONFIRMED, f"{validator} already confirmed")

    @event("ConfirmedBy")
    def confirm(self, validator: str, stake: int, tx: str) -> None:
        self.confirmations[validator] = stake

    @event("Enforced")
    def enforce(self, slashed: int, withheld: bool, at: int) -> None:
        self.status = CONFIRMED
