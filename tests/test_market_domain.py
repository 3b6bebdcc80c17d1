"""The marketplace's rules, on aggregates in memory: lifecycle, consensus, fraud, refusals."""

from __future__ import annotations

import pytest

from domain.consensus import Vote, decide
from domain.errors import ErrorCode, LedgerError
from domain.fraud import FraudAlert
from domain.market_commands import CancelTask, ConfirmFraud, ReportFraud
from domain.participants import Miner, Validator
from domain.submission import Submission
from domain.task import Task
from tests.market_harness import HOUR, MemoryLedger

PUB, M1, M2, M3, V1, V2, V3, V4 = "pub", "m1", "m2", "m3", "v1", "v2", "v3", "v4"


@pytest.fixture
def ledger() -> MemoryLedger:
    ledger = MemoryLedger()
    for who in (PUB, M1, M2, M3, V1, V2, V3, V4):
        ledger.fund(who, 10_000)
    for miner in (M1, M2, M3):
        ledger.miner(miner)
    for validator in (V1, V2, V3, V4):
        ledger.validator(validator, stake=100)
    return ledger


def conserved(ledger: MemoryLedger) -> None:
    assert ledger.held() == ledger.chain.supply
    assert all(getattr(a, "balance", 0) >= 0 for a in ledger.store.values())


def refused(ledger: MemoryLedger, code: ErrorCode, fn, *args, **kwargs) -> None:
    before = {k: getattr(v, "version", None) for k, v in ledger.store.items()}
    with pytest.raises(LedgerError) as info:
        fn(*args, **kwargs)
    assert info.value.error_code is code, info.value
    assert {k: getattr(v, "version", None) for k, v in ledger.store.items()} == before


def test_full_lifecycle_pays_the_best_submission_and_returns_stakes(ledger: MemoryLedger) -> None:
    task = ledger.publish(PUB, reward=1_000)
    assert ledger.balance(PUB) == 9_000 and ledger.market.locked == 1_000 + 400
    ledger.join(M1, task)
    ledger.join(M2, task)
    s1 = ledger.submit(M1, task, "good")
    s2 = ledger.submit(M2, task, "meh")
    conserved(ledger)
    ledger.tick(ledger.now + HOUR)  # deadline: validating
    assert ledger.get(Task.create_id(task)).status == "validating"
    for v, a, b in ((V1, 90, 50), (V2, 85, 55), (V3, 88, 40)):
        ledger.vote(v, s1, a)
        ledger.vote(v, s2, b)
    ledger.tick(ledger.now + 1)  # every submission reached consensus: settles early
    t = ledger.get(Task.create_id(task))
    assert (t.status, t.winner, t.payout, t.locked) == ("settled", M1, 1_000, 0)
    assert ledger.balance(M1) == 10_000 + 1_000 and ledger.balance(M2) == 10_000
    m1, m2 = ledger.get(Miner.create_id(M1)), ledger.get(Miner.create_id(M2))
    assert (m1.completed, m1.earnings, m1.failed, m2.failed) == (1, 1_000, 0, 1)
    assert ledger.get(Submission.create_id(s1)).reached
    v1 = ledger.get(Validator.create_id(V1))
    assert (v1.agreed, v1.outliers, v1.reputation) == (2, 0, 102)  # near consensus on both
    assert not ledger.market.due
    conserved(ledger)


def test_nobody_qualifies_refunds_the_publisher(ledger: MemoryLedger) -> None:
    task = ledger.publish(PUB, reward=500, quality_threshold=95)
    ledger.join(M1, task)
    sub = ledger.submit(M1, task)
    ledger.vote(V1, sub, 50)
    ledger.vote(V2, sub, 52)
    ledger.tick(ledger.now + 2 * HOUR)
    t = ledger.get(Task.create_id(task))
    assert (t.status, t.winner, ledger.balance(PUB)) == ("settled", "", 10_000)
    conserved(ledger)


def test_a_task_with_no_submission_expires_and_refunds(ledger: MemoryLedger) -> None:
    task = ledger.publish(PUB, reward=700)
    ledger.join(M1, task)
    ledger.tick(ledger.now + HOUR)
    t = ledger.get(Task.create_id(task))
    assert (t.status, ledger.balance(PUB), ledger.balance(M1)) == ("expired", 10_000, 10_000)
    assert ledger.tick(ledger.now + 10 * HOUR) == []  # settled exactly once
    conserved(ledger)


def test_cancel_refunds_and_is_refused_once_there_are_submissions(ledger: MemoryLedger) -> None:
    task = ledger.publish(PUB)
    refused(ledger, ErrorCode.NOT_PUBLISHER, ledger.run, CancelTask(ledger.ctx(M1), task_id=task))
    ledger.run(CancelTask(ledger.ctx(PUB), task_id=task))
    assert ledger.balance(PUB) == 10_000
    busy = ledger.publish(PUB)
    ledger.join(M1, busy)
    ledger.submit(M1, busy)
    refused(
        ledger, ErrorCode.HAS_SUBMISSIONS, ledger.run, CancelTask(ledger.ctx(PUB), task_id=busy)
    )
    conserved(ledger)


def test_refusals_have_their_codes_and_change_nothing(ledger: MemoryLedger) -> None:
    task = ledger.publish(PUB, max_participants=1, stake_required=50)
    refused(ledger, ErrorCode.DEADLINE_INVALID, ledger.publish, PUB, deadline=ledger.now)
    refused(ledger, ErrorCode.INSUFFICIENT_FUNDS, ledger.publish, PUB, reward=10**9)
    refused(ledger, ErrorCode.STAKE_TOO_LOW, ledger.join, M1, task, stake=49)
    refused(ledger, ErrorCode.MINER_NOT_REGISTERED, ledger.join, V1, task, stake=50)
    refused(ledger, ErrorCode.TASK_NOT_FOUND, ledger.join, M1, "0" * 64, stake=50)
    refused(ledger, ErrorCode.NOT_PARTICIPANT, ledger.submit, M1, task)
    ledger.join(M1, task, stake=50)
    refused(ledger, ErrorCode.ALREADY_JOINED, ledger.join, M1, task, stake=50)
    refused(ledger, ErrorCode.TASK_FULL, ledger.join, M2, task, stake=50)
    refused(
        ledger,
        ErrorCode.CONTENT_HASH_MISMATCH,
        ledger.run,
        __import__("domain.market_commands", fromlist=["SubmitSolution"]).SubmitSolution(
            ledger.ctx(M1), task_id=task, content_hash="0" * 64, content="x"
        ),
    )
    sub = ledger.submit(M1, task)
    refused(ledger, ErrorCode.ALREADY_SUBMITTED, ledger.submit, M1, task)
    refused(ledger, ErrorCode.ALREADY_REGISTERED, ledger.miner, M1)
    refused(ledger, ErrorCode.NOT_VALIDATOR, ledger.vote, M2, sub, 50)
    refused(ledger, ErrorCode.SUBMISSION_NOT_FOUND, ledger.vote, V1, "f" * 64, 50)
    ledger.vote(V1, sub, 70)
    refused(ledger, ErrorCode.ALREADY_VOTED, ledger.vote, V1, sub, 70)
    late = ledger.publish(PUB)
    ledger.now += 2 * HOUR  # past the deadline, before any tick
    refused(ledger, ErrorCode.DEADLINE_PASSED, ledger.join, M2, late)
    ledger.tick(ledger.now + 10 * HOUR)
    refused(ledger, ErrorCode.TASK_SETTLED, ledger.vote, V2, sub, 70)
    refused(ledger, ErrorCode.TASK_NOT_OPEN, ledger.join, M2, late)
    conserved(ledger)


def test_a_validator_cannot_vote_on_its_own_submission(ledger: MemoryLedger) -> None:
    ledger.miner(V1)
    task = ledger.publish(PUB)
    ledger.join(V1, task)
    sub = ledger.submit(V1, task)
    refused(ledger, ErrorCode.SELF_VOTE, ledger.vote, V1, sub, 99)


def test_a_colluding_minority_cannot_lift_a_friends_score() -> None:
    honest = [Vote("h1", 40, 100), Vote("h2", 45, 100), Vote("h3", 42, 100)]
    colluders = [Vote("c1", 100, 60), Vote("c2", 100, 60)]
    alone, attacked = decide(honest), decide(honest + colluders)
    naive = sum(v.score * v.weight for v in honest + colluders) / 420
    assert naive > 55  # a plain stake-weighted mean would be dragged up by 15 points
    assert attacked.reached and attacked.score <= max(v.score for v in honest)
    assert attacked.score - alone.score < 2


def test_seed_001_consensus_rule() -> None:
    one = decide([Vote("a", 80, 1)])
    assert not one.reached  # fewer than 2 votes
    spread = decide([Vote("a", 10, 1), Vote("b", 90, 1), Vote("c", 95, 1)])
    assert spread.median == 90 and not spread.reached and spread.sd_milli >= 15_000
    tight = decide([Vote("a", 70, 1), Vote("b", 74, 1)])
    assert tight.reached and tight.score_milli == 70_000  # 74 clipped to the median 70
    # confidence = 0.4 * min(n/10, 1) + 0.6 * max(1 - sd/50, 0)
    assert tight.confidence_milli == 680  # 0.4 * 0.2 + 0.6 * 1.0, exactly


def test_confirmed_fraud_slashes_the_stake_to_the_treasury_and_withholds_the_payout(
    ledger: MemoryLedger,
) -> None:
    task = ledger.publish(PUB, reward=1_000)
    ledger.join(M1, task, stake=300)
    ledger.join(M2, task)
    s1 = ledger.submit(M1, task, "copied")
    s2 = ledger.submit(M2, task, "original")
    fraud = ledger.run(ReportFraud(
        ledger.ctx(M2), accused=M1, task_id=task, kind="plagiarism",
        evidence_hash="e" * 64, submission_id=s1,
    ))  # fmt: skip
    treasury_before = ledger.balance("hive1treasury")
    ledger.run(ConfirmFraud(ledger.ctx(V1), fraud_id=fraud))
    ledger.run(ConfirmFraud(ledger.ctx(V2), fraud_id=fraud))
    assert ledger.get(FraudAlert.create_id(fraud)).status == "open"  # 200 of 400: no majority
    refused(
        ledger,
        ErrorCode.ALREADY_CONFIRMED,
        ledger.run,
        ConfirmFraud(ledger.ctx(V1), fraud_id=fraud),
    )
    ledger.run(ConfirmFraud(ledger.ctx(V3), fraud_id=fraud))
    assert ledger.get(FraudAlert.create_id(fraud)).status == "confirmed"
    assert ledger.balance("hive1treasury") == treasury_before + 300
    assert ledger.get(Miner.create_id(M1)).reputation == 100 - 20
    ledger.tick(ledger.now + HOUR)
    for v in (V1, V2, V3):
        ledger.vote(v, s1, 99)  # the best score, but withheld
        ledger.vote(v, s2, 70)
    ledger.tick(ledger.now + 1)
    t = ledger.get(Task.create_id(task))
    assert (t.status, t.winner) == ("settled", M2)
    refused(
        ledger, ErrorCode.FRAUD_CLOSED, ledger.run, ConfirmFraud(ledger.ctx(V4), fraud_id=fraud)
    )
    conserved(ledger)


def test_out_of_range_values_are_refused_with_a_code_not_an_assertion(ledger: MemoryLedger) -> None:
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.publish, PUB, quality_threshold=101)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.publish, PUB, max_participants=0)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.publish, PUB, max_participants=101)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.publish, PUB, stake_required=-1)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.publish, PUB, validation_window=999)
    task = ledger.publish(PUB)
    ledger.join(M1, task)
    sub = ledger.submit(M1, task)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.vote, V1, sub, 101)
    refused(ledger, ErrorCode.FIELD_INVALID, ledger.vote, V1, sub, -1)
