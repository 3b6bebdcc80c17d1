"""Closing tasks and enforcing fraud: where escrow and stakes leave the market's locks.

Decided by the sequencer at the time it records (``now``): a task falls due at its
deadline (open -> validating, or expired when nobody submitted) and again at the end of
its validation window (settled). Each task closes exactly once: a closed task is final.
"""

from __future__ import annotations

from domain.book import Book
from domain.consensus import MAX_SD, SCALE, Consensus
from domain.fraud import FraudAlert
from domain.market import Market
from domain.market_types import TaskStatus
from domain.participants import Miner, Validator
from domain.submission import Submission
from domain.task import Task

WINNER_REPUTATION = 10
SUBMITTED_REPUTATION = -2
NO_SUBMISSION_REPUTATION = -5
FRAUD_REPUTATION = -20
AGREED_REPUTATION = 1
OUTLIER_REPUTATION = -2


def _market(book: Book) -> Market:
    assert book.market is not None
    return book.market


def close_task(
    book: Book, task: Task, *, status: str, now: int, tx: str = "",
    winner: str = "", submission_id: str = "", validated: int = 0,
) -> None:  # fmt: skip
    payout = task.escrow if winner else 0
    refund = task.escrow - payout
    returned = {m: s for m, s in task.stakes.items() if s}
    released = task.locked
    if refund:
        book.open_wallet(task.publisher).receive(tx=tx or task.id, source=task.id, amount=refund)
    if payout:
        book.open_wallet(winner).receive(tx=tx or task.id, source=task.id, amount=payout)
    for miner, stake in returned.items():
        book.open_wallet(miner).receive(tx=tx or task.id, source=task.id, amount=stake)
    task.close(
        status=status, at=now, winner=winner, submission_id=submission_id, payout=payout,
        refund=refund, returned=returned, tx=tx,
    )  # fmt: skip
    market = _market(book)
    market.release(amount=released, rewards=payout, validated=validated)
    market.drop_due(task_id=task.task_id)
    book.touch(task)
    book.touch(market)


def _judge_validators(book: Book, task: Task, results: list[tuple[Submission, Consensus]]) -> None:
    """Validators near a reached consensus gain reputation; outliers lose it."""
    tally: dict[str, list[int]] = {}
    for submission, result in results:
        if not result.reached:
            continue
        for address, (score, _) in submission.votes.items():
            agreed = abs(score * SCALE - result.score_milli) < MAX_SD * SCALE
            tally.setdefault(address, [0, 0])[0 if agreed else 1] += 1
    for address, (agreed, outliers) in sorted(tally.items()):
        validator: Validator | None = book.get(Validator.create_id(address))
        assert validator is not None
        validator.judge(
            task_id=task.task_id, agreed=agreed, outliers=outliers,
            reputation_delta=agreed * AGREED_REPUTATION + outliers * OUTLIER_REPUTATION,
        )  # fmt: skip
        book.touch(validator)


def settle(book: Book, task: Task, now: int) -> None:
    """Pay the best submission at or above the quality threshold; refund if none."""
    results: list[tuple[Submission, Consensus]] = []
    for submission_id in task.submissions.values():
        submission: Submission = book.get(Submission.create_id(submission_id))
        result = submission.consensus()
        submission.record_score(
            reached=result.reached, votes=result.votes, median=result.median,
            score_milli=result.score_milli, sd_milli=result.sd_milli,
            confidence_milli=result.confidence_milli,
        )  # fmt: skip
        book.touch(submission)
        results.append((submission, result))
    _judge_validators(book, task, results)
    eligible = [
        (s, r) for s, r in results
        if r.reached and r.score_milli >= task.quality_threshold * SCALE
        and s.miner not in task.disqualified
    ]  # fmt: skip
    best = max(
        eligible,
        key=lambda p: (p[1].score_milli, -p[0].submitted_at, p[0].submission_id),
        default=None,
    )
    winner = best[0].miner if best else ""
    for miner_address in task.stakes:
        miner: Miner | None = book.get(Miner.create_id(miner_address))
        assert miner is not None
        if miner_address == winner:
            miner.completed_task(
                task_id=task.task_id, earned=task.escrow, reputation_delta=WINNER_REPUTATION
            )
        else:
            delta = (
                SUBMITTED_REPUTATION
                if miner_address in task.submissions
                else NO_SUBMISSION_REPUTATION
            )
            miner.failed_task(task_id=task.task_id, reputation_delta=delta)
        book.touch(miner)
    close_task(
        book, task, status=TaskStatus.SETTLED.value, now=now, winner=winner,
        submission_id=best[0].submission_id if best else "",
        validated=sum(1 for _, r in results if r.reached),
    )  # fmt: skip


def all_reached(book: Book, task: Task) -> bool:
    return bool(task.submissions) and all(
        book.get(Submission.create_id(s)).consensus().reached for s in task.submissions.values()
    )


def tick(book: Book, now: int, limit: int | None = None) -> list[str]:
    """What the clock decides at ``now`` for the first ``limit`` tasks due (all if None):
    returns the ids of the tasks it moved. Each moved task leaves what is due at ``now``
    (closed, settled, or due again at its settlement time)."""
    market = _market(book)
    moved = market.due_tasks(now)[:limit]
    for task_id in moved:
        task: Task = book.get(Task.create_id(task_id))
        assert task is not None and not task.final
        if task.status == TaskStatus.OPEN.value:
            if not task.submissions:
                close_task(book, task, status=TaskStatus.EXPIRED.value, now=now)
                continue
            task.start_validation(at=now)
            book.touch(task)
            if task.settles_at > now and not all_reached(book, task):
                market.set_due(task_id=task_id, at=task.settles_at)
                book.touch(market)
                continue
        settle(book, task, now)
    return moved


def enforce_fraud(book: Book, alert: FraudAlert, now: int) -> None:
    """A confirmed alert: slash the accused's stake in the task to the treasury and withhold
    its payout if the task is not settled yet; its reputation drops either way."""
    task: Task = book.get(Task.create_id(alert.task_id))
    withheld = not task.final
    stake = task.stakes.get(alert.accused, 0) if withheld else 0
    if withheld:
        task.slash(miner=alert.accused, amount=stake, fraud_id=alert.fraud_id)
        book.touch(task)
    if stake:
        book.open_wallet(book.chain.treasury).receive(
            tx=alert.fraud_id, source=task.id, amount=stake
        )
        _market(book).release(amount=stake, rewards=0, validated=0)
        book.touch(_market(book))
    miner: Miner | None = book.get(Miner.create_id(alert.accused))
    if miner is not None:
        miner.penalize(fraud_id=alert.fraud_id, reputation_delta=FRAUD_REPUTATION)
        book.touch(miner)
    alert.enforce(slashed=stake, withheld=withheld, at=now)
    book.touch(alert)
