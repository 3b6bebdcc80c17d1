"""The task aggregate: a published job whose reward sits in escrow until it is settled."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate
from domain.errors import ErrorCode, LedgerError
from domain.market_types import FINAL, TaskStatus


class Task(LedgerAggregate):
    """Holds the escrowed reward and the participants' stakes, both as integer units.

    Money leaves a task only through settlement, expiry, cancellation or a slash, each
    recorded once: after any of the first three the task is final and holds nothing.
    """

    @staticmethod
    def create_id(task_id: str) -> str:
        return f"task.{task_id}"

    @event("Published")
    def __init__(
        self, task_id: str, publisher: str, title: str, description: str, task_type: str,
        difficulty: str, reward: int, stake_required: int, deadline: int,
        validation_window: int, verification_type: str, quality_threshold: int,
        max_participants: int, published_at: int,
    ) -> None:  # fmt: skip
        self.task_id = task_id
        self.publisher = publisher
        self.title = title
        self.description = description
        self.task_type = task_type
        self.difficulty = difficulty
        self.reward = reward
        self.stake_required = stake_required
        self.deadline = deadline
        self.validation_window = validation_window
        self.verification_type = verification_type
        self.quality_threshold = quality_threshold
        self.max_participants = max_participants
        self.published_at = published_at
        self.status = TaskStatus.OPEN.value
        self.escrow = reward
        self.stakes: dict[str, int] = {}
        self.submissions: dict[str, str] = {}  # miner -> submission id
        self.disqualified: list[str] = []
        self.winner = ""
        self.payout = 0

    # -- derived --------------------------------------------------------------------
    @property
    def locked(self) -> int:
        return self.escrow + sum(self.stakes.values())

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def settles_at(self) -> int:
        return self.deadline + self.validation_window

    # -- guards ---------------------------------------------------------------------
    def check_open_at(self, now: int) -> None:
        if self.status != TaskStatus.OPEN.value:
            raise LedgerError(ErrorCode.TASK_NOT_OPEN, f"task {self.task_id} is {self.status}")
        if now >= self.deadline:
            raise LedgerError(ErrorCode.DEADLINE_PASSED, f"the deadline was {self.deadline} ms")

    def check_can_join(self, miner: str, stake: int, now: int) -> None:
        self.check_open_at(now)
        if miner in self.stakes:
            raise LedgerError(ErrorCode.ALREADY_JOINED, f"{miner} already joined")
        if len(self.stakes) >= self.max_participants:
            raise LedgerError(ErrorCode.TASK_FULL, f"{self.max_participants} participants")
        if stake < self.stake_required:
            raise LedgerError(
                ErrorCode.STAKE_TOO_LOW, f"stake {stake} < required {self.stake_required}"
            )

    def check_can_submit(self, miner: str, now: int) -> None:
        self.check_open_at(now)
        if miner not in self.stakes:
            raise LedgerError(ErrorCode.NOT_PARTICIPANT, f"{miner} has not joined this task")
        if miner in self.submissions:
            raise LedgerError(ErrorCode.ALREADY_SUBMITTED, f"{miner} already submitted")

    def check_can_cancel(self, signer: str) -> None:
        if signer != self.publisher:
            raise LedgerError(ErrorCode.NOT_PUBLISHER, "only the publisher may cancel")
        if self.status != TaskStatus.OPEN.value:
            raise LedgerError(ErrorCode.TASK_NOT_OPEN, f"task {self.task_id} is {self.status}")
        if self.submissions:
            raise LedgerError(ErrorCode.HAS_SUBMISSIONS, f"{len(self.submissions)} submissions")

    def check_votable(self) -> None:
        if self.final:
            raise LedgerError(ErrorCode.TASK_SETTLED, f"task {self.task_id} is {self.status}")

    # -- events ---------------------------------------------------------------------
    @event("Joined")
    def join(self, miner: str, stake: int, tx: str) -> None:
        self.stakes[miner] = stake

    @event("SubmissionAdded")
    def add_submission(self, miner: str, submission_id: str, tx: str) -> None:
        self.submissions[miner] = submission_id

    @event("ValidationStarted")
    def start_validation(self, at: int) -> None:
        self.status = TaskStatus.VALIDATING.value

    @event("StakeSlashed")
    def slash(self, miner: str, amount: int, fraud_id: str) -> None:
        assert 0 <= amount <= self.stakes.get(miner, 0)
        self.stakes[miner] -= amount
        if miner not in self.disqualified:
            self.disqualified.append(miner)

    @event("Closed")
    def close(
        self, status: str, at: int, winner: str, submission_id: str, payout: int, refund: int,
        returned: dict[str, int], tx: str,
    ) -> None:  # fmt: skip
        """Settle, expire or cancel: escrow goes to the winner or back to the publisher,
        every remaining stake goes back to its miner. Afterwards the task holds nothing."""
        assert status in (TaskStatus.SETTLED, TaskStatus.EXPIRED, TaskStatus.CANCELLED)
        assert payout + refund == self.escrow, "the escrow is paid out whole, once"
        assert returned == {m: s for m, s in self.stakes.items() if s}, "every stake returns"
        self.status = status
        self.winner = winner
        self.payout = payout
        self.escrow = 0
        self.stakes = dict.fromkeys(self.stakes, 0)
