"""The marketplace's rules. As in domain/handlers.py: every guard first, then events, then
the conservation check (money only moves between wallets and the market's locks)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from domain.book import Book
from domain.commands import TxContext
from domain.errors import ErrorCode, LedgerError
from domain.fraud import FraudAlert
from domain.handlers import check_not_expired
from domain.market import Market
from domain.market_commands import (
    CancelTask,
    CastVote,
    ConfirmFraud,
    JoinTask,
    PublishTask,
    RegisterMiner,
    RegisterValidator,
    ReportFraud,
    SubmitSolution,
)
from domain.market_types import TaskStatus
from domain.money import MAX_AMOUNT, check_amount
from domain.participants import Miner, Validator
from domain.settlement import all_reached, close_task, enforce_fraud
from domain.submission import Submission
from domain.task import Task
from domain.wallet import Wallet, check_next_nonce

MAX_PARTICIPANTS = 100  # a settlement is one atomic batch
MAX_WINDOW_MS = 30 * 86_400_000


def market_of(book: Book) -> Market:
    assert book.market is not None, "the market opens with the chain"
    return book.market


def held(book: Book) -> int:
    """Money in wallets this book has loaded plus everything the market has locked."""
    return sum(w.balance for w in book.wallets()) + market_of(book).locked


def _check_nonce(book: Book, ctx: TxContext) -> Wallet | None:
    check_not_expired(ctx)
    wallet = book.wallet(ctx.signer)
    check_next_nonce(wallet.nonce if wallet else 0, ctx.nonce)
    return wallet


def _check_payer(book: Book, ctx: TxContext, amount: int) -> Wallet:
    check_amount(amount)
    wallet = _check_nonce(book, ctx)
    if wallet is None:
        raise LedgerError(ErrorCode.INSUFFICIENT_FUNDS, f"{ctx.signer} has no balance")
    wallet.check_can_pay(amount)
    return wallet


def _use_nonce(book: Book, ctx: TxContext) -> None:
    book.open_wallet(ctx.signer).use_nonce(tx=ctx.txid, nonce=ctx.nonce)


def _task(book: Book, task_id: str) -> Task:
    task = book.get(Task.create_id(task_id))
    if task is None:
        raise LedgerError(ErrorCode.TASK_NOT_FOUND, f"no task {task_id}")
    return task


def _validator(book: Book, address: str) -> Validator:
    validator = book.get(Validator.create_id(address))
    if validator is None:
        raise LedgerError(ErrorCode.NOT_VALIDATOR, f"{address} is not a registered validator")
    return validator


def _check_range(name: str, value: int, low: int, high: int) -> None:
    """A second line of defence behind the wire types: the domain refuses what it cannot
    hold with a code, never with a failed assertion."""
    if type(value) is not int or not low <= value <= high:
        raise LedgerError(
            ErrorCode.FIELD_INVALID, f"{name} must be in {low}..{high}, not {value!r}"
        )


def publish_task(cmd: PublishTask, book: Book) -> None:
    ctx = cmd.ctx
    wallet = _check_payer(book, ctx, cmd.reward)
    if cmd.deadline <= ctx.sequenced_at:
        raise LedgerError(
            ErrorCode.DEADLINE_INVALID,
            f"deadline {cmd.deadline} ms is not after now ({ctx.sequenced_at} ms)",
        )
    _check_range("quality_threshold", cmd.quality_threshold, 0, 100)
    _check_range("max_participants", cmd.max_participants, 1, MAX_PARTICIPANTS)
    _check_range("stake_required", cmd.stake_required, 0, MAX_AMOUNT)
    _check_range("validation_window", cmd.validation_window, 1_000, MAX_WINDOW_MS)
    task = Task(
        task_id=ctx.txid, publisher=ctx.signer, title=cmd.title, description=cmd.description,
        task_type=cmd.task_type, difficulty=cmd.difficulty, reward=cmd.reward,
        stake_required=cmd.stake_required, deadline=cmd.deadline,
        validation_window=cmd.validation_window, verification_type=cmd.verification_type,
        quality_threshold=cmd.quality_threshold, max_participants=cmd.max_participants,
        published_at=ctx.sequenced_at,
    )  # fmt: skip
    wallet.send(tx=ctx.txid, to=task.id, amount=cmd.reward, nonce=ctx.nonce)
    book.touch(wallet)
    book.add(task)
    market = market_of(book)
    market.lock(amount=cmd.reward, validator=False)
    market.set_due(task_id=ctx.txid, at=cmd.deadline)
    book.touch(market)


def cancel_task(cmd: CancelTask, book: Book) -> None:
    ctx = cmd.ctx
    _check_nonce(book, ctx)
    task = _task(book, cmd.task_id)
    task.check_can_cancel(ctx.signer)
    _use_nonce(book, ctx)
    close_task(book, task, status="cancelled", now=ctx.sequenced_at, tx=ctx.txid)


def register_miner(cmd: RegisterMiner, book: Book) -> None:
    ctx = cmd.ctx
    _check_nonce(book, ctx)
    if book.get(Miner.create_id(ctx.signer)) is not None:
        raise LedgerError(ErrorCode.ALREADY_REGISTERED, f"{ctx.signer} is already a miner")
    _use_nonce(book, ctx)
    book.add(Miner(
        address=ctx.signer, miner_id=cmd.miner_id, skills=list(cmd.skills),
        specializations=list(cmd.specializations), contact=dict(cmd.contact),
        registered_at=ctx.sequenced_at,
    ))  # fmt: skip


def join_task(cmd: JoinTask, book: Book) -> None:
    ctx = cmd.ctx
    wallet = _check_payer(book, ctx, cmd.stake)
    if book.get(Miner.create_id(ctx.signer)) is None:
        raise LedgerError(ErrorCode.MINER_NOT_REGISTERED, f"{ctx.signer} is not a miner")
    task = _task(book, cmd.task_id)
    task.check_can_join(ctx.signer, cmd.stake, ctx.sequenced_at)
    wallet.send(tx=ctx.txid, to=task.id, amount=cmd.stake, nonce=ctx.nonce)
    book.touch(wallet)
    task.join(miner=ctx.signer, stake=cmd.stake, tx=ctx.txid)
    book.touch(task)
    market_of(book).lock(amount=cmd.stake, validator=False)
    book.touch(market_of(book))


def submit_solution(cmd: SubmitSolution, book: Book) -> None:
    ctx = cmd.ctx
    _check_nonce(book, ctx)
    task = _task(book, cmd.task_id)
    task.check_can_submit(ctx.signer, ctx.sequenced_at)
    if cmd.content and hashlib.sha256(cmd.content.encode()).hexdigest() != cmd.content_hash:
        raise LedgerError(ErrorCode.CONTENT_HASH_MISMATCH, "sha256(content) != content_hash")
    _use_nonce(book, ctx)
    book.add(Submission(
        submission_id=ctx.txid, task_id=cmd.task_id, miner=ctx.signer,
        content_hash=cmd.content_hash, content=cmd.content, content_uri=cmd.content_uri,
        submitted_at=ctx.sequenced_at,
    ))  # fmt: skip
    task.add_submission(miner=ctx.signer, submission_id=ctx.txid, tx=ctx.txid)
    book.touch(task)


def register_validator(cmd: RegisterValidator, book: Book) -> None:
    ctx = cmd.ctx
    wallet = _check_payer(book, ctx, cmd.stake)
    if book.get(Validator.create_id(ctx.signer)) is not None:
        raise LedgerError(ErrorCode.ALREADY_REGISTERED, f"{ctx.signer} is already a validator")
    validator = Validator(address=ctx.signer, stake=cmd.stake, registered_at=ctx.sequenced_at)
    wallet.send(tx=ctx.txid, to=validator.id, amount=cmd.stake, nonce=ctx.nonce)
    book.touch(wallet)
    book.add(validator)
    market_of(book).lock(amount=cmd.stake, validator=True)
    book.touch(market_of(book))


def cast_vote(cmd: CastVote, book: Book) -> None:
    ctx = cmd.ctx
    _check_range("score", cmd.score, 0, 100)
    _check_nonce(book, ctx)
    validator = _validator(book, ctx.signer)
    submission = book.get(Submission.create_id(cmd.submission_id))
    if submission is None:
        raise LedgerError(ErrorCode.SUBMISSION_NOT_FOUND, f"no submission {cmd.submission_id}")
    _task(book, submission.task_id).check_votable()
    submission.check_can_vote(ctx.signer)
    _use_nonce(book, ctx)
    submission.vote(validator=ctx.signer, score=cmd.score, weight=validator.stake, tx=ctx.txid)
    validator.cast(submission_id=cmd.submission_id, score=cmd.score)
    book.touch(submission)
    book.touch(validator)
    task = _task(book, submission.task_id)
    if task.status == TaskStatus.VALIDATING.value and all_reached(book, task):
        market_of(book).set_due(task_id=task.task_id, at=ctx.sequenced_at)  # settle early
        book.touch(market_of(book))


def report_fraud(cmd: ReportFraud, book: Book) -> None:
    ctx = cmd.ctx
    _check_nonce(book, ctx)
    if cmd.accused == ctx.signer:
        raise LedgerError(ErrorCode.SELF_REPORT, "a reporter cannot accuse itself")
    task = _task(book, cmd.task_id)
    if cmd.accused not in task.stakes:
        raise LedgerError(ErrorCode.NOT_PARTICIPANT, f"{cmd.accused} did not join the task")
    if cmd.submission_id and task.submissions.get(cmd.accused) != cmd.submission_id:
        raise LedgerError(
            ErrorCode.SUBMISSION_NOT_FOUND, f"{cmd.submission_id} is not the accused's submission"
        )
    _use_nonce(book, ctx)
    book.add(FraudAlert(
        fraud_id=ctx.txid, reporter=ctx.signer, accused=cmd.accused, task_id=cmd.task_id,
        submission_id=cmd.submission_id, kind=cmd.kind, evidence_hash=cmd.evidence_hash,
        reported_at=ctx.sequenced_at,
    ))  # fmt: skip


def confirm_fraud(cmd: ConfirmFraud, book: Book) -> None:
    ctx = cmd.ctx
    _check_nonce(book, ctx)
    validator = _validator(book, ctx.signer)
    alert = book.get(FraudAlert.create_id(cmd.fraud_id))
    if alert is None:
        raise LedgerError(ErrorCode.FRAUD_NOT_FOUND, f"no fraud alert {cmd.fraud_id}")
    alert.check_can_confirm(ctx.signer)
    _use_nonce(book, ctx)
    alert.confirm(validator=ctx.signer, stake=validator.stake, tx=ctx.txid)
    book.touch(alert)
    if 2 * alert.confirmed_stake > market_of(book).validator_stake:
        enforce_fraud(book, alert, now=ctx.sequenced_at)


MARKET_HANDLERS: dict[type[Any], Callable[[Any, Book], None]] = {
    PublishTask: publish_task,
    CancelTask: cancel_task,
    RegisterMiner: register_miner,
    JoinTask: join_task,
    SubmitSolution: submit_solution,
    RegisterValidator: register_validator,
    CastVote: cast_vote,
    ReportFraud: report_fraud,
    ConfirmFraud: confirm_fraud,
}
