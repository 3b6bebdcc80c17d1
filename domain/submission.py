"""The submission aggregate: a miner's solution to a task, and the validators' votes on it."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate
from domain.consensus import Consensus, Vote, decide
from domain.errors import ErrorCode, LedgerError


class Submission(LedgerAggregate):
    @staticmethod
    def create_id(submission_id: str) -> str:
        return f"submission.{submission_id}"

    @event("Submitted")
    def __init__(
        self, submission_id: str, task_id: str, miner: str, content_hash: str, content: str,
        content_uri: str, submitted_at: int,
    ) -> None:  # fmt: skip
        self.submission_id = submission_id
        self.task_id = task_id
        self.miner = miner
        self.content_hash = content_hash
        self.content = content
        self.content_uri = content_uri
        self.submitted_at = submitted_at
        self.votes: dict[str, list[int]] = {}  # validator -> [score, weight]
        self.score_milli = -1  # recorded at settlement; -1: not yet
        self.reached = False

    def ballots(self) -> list[Vote]:
        return [Vote(v, s, w) for v, (s, w) in sorted(self.votes.items())]

    def consensus(self) -> Consensus:
        return decide(self.ballots())

    def check_can_vote(self, validator: str) -> None:
        if validator == self.miner:
            raise LedgerError(ErrorCode.SELF_VOTE, "validators cannot vote on their own work")
        if validator in self.votes:
            raise LedgerError(ErrorCode.ALREADY_VOTED, f"{validator} already voted")

    @event("Voted")
    def vote(self, validator: str, score: int, weight: int, tx: str) -> None:
        assert 0 <= score <= 100 and weight > 0
        self.votes[validator] = [score, weight]

    @event("Scored")
    def record_score(
        self, reached: bool, votes: int, median: int, score_milli: int, sd_milli: int,
        confidence_milli: int,
    ) -> None:  # fmt: skip
        self.reached = reached
        self.score_milli = score_milli
