"""Property tests of the marketplace: random interleavings of every market transaction and
of the clock, against a reference model written with plain dictionaries.

The model predicts, for every command, either the exact refusal code or the effects
(balances, escrow, stakes, votes, fraud alerts, statuses, winners, miner and validator
records). Settlement, payouts, refunds, slashes and stake returns are the model's own
code; only the consensus rule itself (``domain.consensus.decide``, tested separately and
by the last test here) is shared with the domain.

Invariants after every step: money is conserved (wallets + market.locked == supply), the
market's locks equal the model's escrow + stakes + validator stakes, no balance is
negative, a task closes at most once and holds nothing afterwards, and the domain agrees
with the model on every figure. A refused command must raise the predicted code and
leave every aggregate at its version.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.book import Book
from domain.commands import Transfer
from domain.consensus import Vote, decide
from domain.errors import ErrorCode, LedgerError
from domain.fraud import FraudAlert
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
from domain.participants import Miner, Validator
from domain.submission import Submission
from domain.task import Task
from domain.wallet import Wallet
from tests.market_harness import TREASURY, MemoryLedger

SUPPLY = 60_000
FUND = 4_000
ACTORS = ["hive1a", "hive1b", "hive1c", "hive1d", "hive1e"]
EVERYONE = [TREASURY, *ACTORS]
START = 1_000_000

OPEN, VALIDATING, SETTLED, EXPIRED, CANCELLED = (
    "open", "validating", "settled", "expired", "cancelled",
)  # fmt: skip
FINAL = {SETTLED, EXPIRED, CANCELLED}

actors = st.sampled_from(EVERYONE)


def mostly(usual: st.SearchStrategy[Any], *rare: Any) -> st.SearchStrategy[Any]:
    """``usual`` about nine times in ten, else one of ``rare``. Hypothesis favours the ends of
    ranges and lists, so the rare values sit in the middle of a list of plain zeros."""
    return st.sampled_from([0] * 9 + list(range(1, len(rare) + 1)) + [0] * 9).flatmap(
        lambda i: usual if i == 0 else st.just(rare[i - 1])
    )


nonce_shifts = mostly(st.just(0), -1, 1)
# an index into the model's list, from the newest; -1 (or an empty list): an unknown id
picks = mostly(st.sampled_from([0, 1, 2, 3, 0]), -1, 5)
# mostly someone for whom the action makes sense (a validator to vote, ...), else anyone
whos = mostly(st.integers(0, 11), *range(24, 30))
money = mostly(st.integers(1, 1_500), -1, 0, 10**6, 3_900)
ACTIONS: dict[str, tuple[int, dict[str, st.SearchStrategy[Any]]]] = {}
F = TypeVar("F", bound=Callable[..., None])


def action(weight: int, **strategies: st.SearchStrategy[Any]) -> Callable[[F], F]:
    """Register a method as one of the machine's actions, drawn ``weight`` times as often as
    an action of weight 1. (One rule draws among them: Hypothesis's swarm testing would
    otherwise switch off random rules per example, and a task needs five kinds of action in
    a row to reach settlement.)"""

    def register(method: F) -> F:
        ACTIONS[method.__name__] = (weight, strategies)
        return method

    return register


scores = st.one_of(st.integers(0, 100), st.sampled_from([60, 64, 66, 70, 72, 80, 95]))


# -- the reference model ------------------------------------------------------------------
@dataclass
class MTask:
    publisher: str
    escrow: int
    stake_required: int
    deadline: int
    window: int
    threshold: int
    max_participants: int
    status: str = OPEN
    stakes: dict[str, int] = field(default_factory=dict)  # join order
    subs: dict[str, str] = field(default_factory=dict)  # miner -> submission id, submit order
    disqualified: set[str] = field(default_factory=set)
    winner: str = ""


@dataclass
class MSub:
    task: str
    miner: str
    at: int
    votes: dict[str, tuple[int, int]] = field(default_factory=dict)  # validator -> score, weight


@dataclass
class MFraud:
    accused: str
    task: str
    confirmed: bool = False
    confirmations: dict[str, int] = field(default_factory=dict)


@dataclass
class MMiner:
    reputation: int = 100
    completed: int = 0
    failed: int = 0
    earnings: int = 0


@dataclass
class MValidator:
    stake: int
    reputation: int = 100
    agreed: int = 0
    outliers: int = 0


def hash_of(name: str) -> str:
    """A fixed shuffle: Hypothesis favours the ends of a list."""
    return hashlib.sha256(name.encode()).hexdigest()


def task_final(task: MTask) -> bool:
    return task.status in FINAL


def floor0(value: int) -> int:
    return max(0, value)


class RecordingLedger(MemoryLedger):
    """The harness's ledger, counting Task.Closed events per task as they are committed."""

    def __init__(self) -> None:
        super().__init__(supply=SUPPLY)
        self.closed: Counter[str] = Counter()

    def _commit(self, book: Book) -> None:
        for aggregate in book.changed.values():
            for e in aggregate.collect_events():
                if type(e).__qualname__ == "Task.Closed":
                    self.closed[aggregate.id] += 1
            self.store[aggregate.id] = aggregate


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = RecordingLedger()
        self.ledger.now = START
        self.balances: dict[str, int] = {TREASURY: SUPPLY}
        self.nonces: dict[str, int] = {}
        for who in ACTORS:
            self.ledger.fund(who, FUND)
            self.balances[TREASURY] -= FUND
            self.balances[who] = FUND
        self.nonces[TREASURY] = len(ACTORS)
        self.tasks: dict[str, MTask] = {}
        self.subs: dict[str, MSub] = {}
        self.frauds: dict[str, MFraud] = {}
        self.miners: dict[str, MMiner] = {}
        self.validators: dict[str, MValidator] = {}
        self.due: dict[str, int] = {}
        self.rewards_paid = 0
        self.validated = 0

    # -- helpers ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.ledger.now

    def _pick(self, ids: list[str], index: int, unknown: str) -> str:
        """Newest first (the lists put what is still in play before the rest)."""
        if index < 0 or not ids:
            return unknown
        return ids[index % len(ids)]

    def _task_ids(self, ready: Callable[[MTask], bool] = lambda t: True) -> list[str]:
        """Open tasks that are ``ready`` (for a join, a submission) first, newest first."""
        newest = list(reversed(self.tasks))
        first = [t for t in newest if self.tasks[t].status == OPEN and ready(self.tasks[t])]
        return first + [t for t in newest if t not in first]

    def _sub_ids(self) -> list[str]:
        newest = list(reversed(self.subs))
        live = [s for s in newest if self.tasks[self.subs[s].task].status not in FINAL]
        return live + [s for s in newest if s not in live]

    def _fraud_ids(self) -> list[str]:
        newest = list(reversed(self.frauds))
        return [f for f in newest if not self.frauds[f].confirmed] + [
            f for f in newest if self.frauds[f].confirmed
        ]

    @staticmethod
    def _who(preferred: list[str], index: int) -> str:
        if preferred and index < 24:
            return preferred[index % len(preferred)]
        return EVERYONE[index % len(EVERYONE)]

    def _ctx(self, signer: str, shift: int) -> Any:
        return self.ledger.ctx(signer, nonce=self.nonces.get(signer, 0) + 1 + shift)

    @staticmethod
    def _nonce_error(shift: int) -> ErrorCode | None:
        if shift < 0:
            return ErrorCode.NONCE_STALE
        if shift > 0:
            return ErrorCode.NONCE_GAP
        return None

    def _payer_error(self, signer: str, amount: int, shift: int) -> ErrorCode | None:
        if not 0 < amount < 2**63:
            return ErrorCode.AMOUNT_INVALID
        if shift:
            return self._nonce_error(shift)
        if self.balances.get(signer, 0) < amount:
            return ErrorCode.INSUFFICIENT_FUNDS
        return None

    def _versions(self) -> dict[str, int]:
        return {key: agg.version for key, agg in self.ledger.store.items()}

    def _attempt(self, command: Any, expected: ErrorCode | None) -> bool:
        """Run ``command``; it must be refused with ``expected`` (changing nothing) or, when
        ``expected`` is None, accepted. Returns whether it was accepted."""
        before = self._versions()
        try:
            self.ledger.run(command)
        except LedgerError as err:
            assert expected is not None, f"{type(command).__name__} refused ({err}), model accepts"
            assert err.error_code is expected, f"{type(command).__name__}: {err}, want {expected}"
            assert self._versions() == before, "a refused command changed an aggregate"
            event(f"refused {expected.code}")
            return False
        assert expected is None, f"{type(command).__name__} accepted, model expects {expected}"
        event(f"accepted {type(command).__name__}")
        self.nonces[command.ctx.signer] = command.ctx.nonce
        return True

    def _credit(self, address: str, amount: int) -> None:
        if amount:
            self.balances[address] = self.balances.get(address, 0) + amount

    def _reached(self, sid: str) -> bool:
        return decide(self._ballots(sid)).reached

    def _ballots(self, sid: str) -> list[Vote]:
        return [Vote(v, s, w) for v, (s, w) in sorted(self.subs[sid].votes.items())]

    def _all_reached(self, task: MTask) -> bool:
        return bool(task.subs) and all(self._reached(sid) for sid in task.subs.values())

    def _close(self, tid: str, status: str, winner: str = "") -> None:
        task = self.tasks[tid]
        assert task.status not in FINAL
        if winner:
            self._credit(winner, task.escrow)
            self.rewards_paid += task.escrow
        else:
            self._credit(task.publisher, task.escrow)
        for miner, stake in task.stakes.items():
            self._credit(miner, stake)
        task.escrow = 0
        task.stakes = dict.fromkeys(task.stakes, 0)
        task.status = status
        task.winner = winner
        self.due.pop(tid, None)
        event(f"closed {status}" + (" with a winner" if winner else ""))

    def _settle(self, tid: str) -> None:
        task = self.tasks[tid]
        results = [(sid, decide(self._ballots(sid))) for sid in task.subs.values()]
        judged: dict[str, list[int]] = {}
        for sid, result in results:
            if not result.reached:
                continue
            for validator, (score, _) in self.subs[sid].votes.items():
                near = abs(score * 1_000 - result.score_milli) < 15_000
                judged.setdefault(validator, [0, 0])[0 if near else 1] += 1
        for validator, (agreed, outliers) in judged.items():
            record = self.validators[validator]
            record.agreed += agreed
            record.outliers += outliers
            record.reputation = floor0(record.reputation + agreed - 2 * outliers)
        best: tuple[int, int, str] | None = None
        winner = ""
        for sid, result in results:
            sub = self.subs[sid]
            if not result.reached or sub.miner in task.disqualified:
                continue
            if result.score_milli < task.threshold * 1_000:
                continue
            key = (result.score_milli, -sub.at, sid)
            if best is None or key > best:
                best, winner = key, sub.miner
        for miner in task.stakes:
            record = self.miners[miner]
            if miner == winner:
                record.completed += 1
                record.earnings += task.escrow
                record.reputation = floor0(record.reputation + 10)
            else:
                record.failed += 1
                delta = -2 if miner in task.subs else -5
                record.reputation = floor0(record.reputation + delta)
        self.validated += sum(1 for _, r in results if r.reached)
        self._close(tid, SETTLED, winner)

    @initialize(
        miners=st.sets(st.sampled_from(ACTORS), min_size=2),
        validators=st.dictionaries(st.sampled_from(ACTORS), st.integers(1, 300), min_size=2),
    )
    def register_some(self, miners: set[str], validators: dict[str, int]) -> None:
        """Start with some miners and validators (some are both, so self votes can happen)."""
        for address in sorted(miners):
            self.register_miner(address, 0)
        for address, stake in sorted(validators.items()):
            self.register_validator(address, stake, 0)

    # -- transactions --------------------------------------------------------------------
    @action(1, src=actors, dst=actors, amount=money, shift=nonce_shifts)
    def transfer(self, src: str, dst: str, amount: int, shift: int) -> None:
        if not 0 < amount < 2**63:
            expected: ErrorCode | None = ErrorCode.AMOUNT_INVALID
        elif src == dst:
            expected = ErrorCode.SELF_TRANSFER
        else:
            expected = self._payer_error(src, amount, shift)
        if self._attempt(Transfer(self._ctx(src, shift), to=dst, amount=amount), expected):
            self.balances[src] -= amount
            self._credit(dst, amount)

    @action(3,
        signer=actors, reward=money, stake_required=st.integers(0, 60),
        deadline_in=mostly(st.integers(1_500, 6_000), -300, 0, 1),
        window=mostly(st.integers(500, 3_000), 0, 8_000),
        threshold=st.sampled_from([0, 50, 60, 70, 90]),
        max_participants=st.sampled_from([0, 1, 2, 3, 3, 4, 4]),
        shift=nonce_shifts,
    )  # fmt: skip
    def publish(
        self, signer: str, reward: int, stake_required: int, deadline_in: int, window: int,
        threshold: int, max_participants: int, shift: int,
    ) -> None:  # fmt: skip
        expected = self._payer_error(signer, reward, shift)
        if expected is None and deadline_in <= 0:
            expected = ErrorCode.DEADLINE_INVALID
        if expected is None and (max_participants < 1 or window < 1_000):
            expected = ErrorCode.FIELD_INVALID  # the domain's own range checks
        command = PublishTask(
            self._ctx(signer, shift), title="t", description="d", task_type="general_task",
            difficulty="beginner", reward=reward, stake_required=stake_required,
            deadline=self.now + deadline_in, validation_window=window,
            verification_type="peer_review", quality_threshold=threshold,
            max_participants=max_participants,
        )  # fmt: skip
        if self._attempt(command, expected):
            tid = command.ctx.txid
            self.balances[signer] -= reward
            self.tasks[tid] = MTask(
                publisher=signer, escrow=reward, stake_required=stake_required,
                deadline=command.deadline, window=window, threshold=threshold,
                max_participants=max_participants,
            )  # fmt: skip
            self.due[tid] = command.deadline

    @action(1, who=whos, pick=picks, shift=nonce_shifts)
    def cancel(self, who: int, pick: int, shift: int) -> None:
        tid = self._pick(list(reversed(self.tasks)), pick, "no-such-task")
        task = self.tasks.get(tid)
        signer = self._who([task.publisher] if task else [], who)
        expected = self._nonce_error(shift)
        if expected is None:
            if task is None:
                expected = ErrorCode.TASK_NOT_FOUND
            elif signer != task.publisher:
                expected = ErrorCode.NOT_PUBLISHER
            elif task.status != OPEN:
                expected = ErrorCode.TASK_NOT_OPEN
            elif task.subs:
                expected = ErrorCode.HAS_SUBMISSIONS
        if self._attempt(CancelTask(self._ctx(signer, shift), task_id=tid), expected):
            self._close(tid, CANCELLED)

    @action(1, signer=actors, shift=nonce_shifts)
    def register_miner(self, signer: str, shift: int) -> None:
        expected = self._nonce_error(shift)
        if expected is None and signer in self.miners:
            expected = ErrorCode.ALREADY_REGISTERED
        if self._attempt(RegisterMiner(self._ctx(signer, shift), miner_id=signer), expected):
            self.miners[signer] = MMiner()

    @action(4, who=whos, pick=picks, stake=mostly(st.integers(1, 80), -1, 0), shift=nonce_shifts)
    def join(self, who: int, pick: int, stake: int, shift: int) -> None:
        tid = self._pick(
            self._task_ids(lambda t: len(t.stakes) < t.max_participants), pick, "no-such-task"
        )
        task = self.tasks.get(tid)
        joined = task.stakes if task else {}
        signer = self._who([m for m in self.miners if m not in joined], who)
        expected = self._payer_error(signer, stake, shift)
        if expected is None:
            if signer not in self.miners:
                expected = ErrorCode.MINER_NOT_REGISTERED
            elif task is None:
                expected = ErrorCode.TASK_NOT_FOUND
            elif task.status != OPEN:
                expected = ErrorCode.TASK_NOT_OPEN
            elif self.now >= task.deadline:
                expected = ErrorCode.DEADLINE_PASSED
            elif signer in task.stakes:
                expected = ErrorCode.ALREADY_JOINED
            elif len(task.stakes) >= task.max_participants:
                expected = ErrorCode.TASK_FULL
            elif stake < task.stake_required:
                expected = ErrorCode.STAKE_TOO_LOW
        if self._attempt(JoinTask(self._ctx(signer, shift), task_id=tid, stake=stake), expected):
            assert task is not None
            self.balances[signer] -= stake
            task.stakes[signer] = stake

    @action(4, who=whos, pick=picks, bad_hash=mostly(st.just(False), True),
          shift=nonce_shifts)  # fmt: skip
    def submit(self, who: int, pick: int, bad_hash: bool, shift: int) -> None:
        tid = self._pick(
            self._task_ids(lambda t: len(t.subs) < len(t.stakes)), pick, "no-such-task"
        )
        task = self.tasks.get(tid)
        signer = self._who([m for m in task.stakes if m not in task.subs] if task else [], who)
        expected = self._nonce_error(shift)
        if expected is None:
            if task is None:
                expected = ErrorCode.TASK_NOT_FOUND
            elif task.status != OPEN:
                expected = ErrorCode.TASK_NOT_OPEN
            elif self.now >= task.deadline:
                expected = ErrorCode.DEADLINE_PASSED
            elif signer not in task.stakes:
                expected = ErrorCode.NOT_PARTICIPANT
            elif signer in task.subs:
                expected = ErrorCode.ALREADY_SUBMITTED
            elif bad_hash:
                expected = ErrorCode.CONTENT_HASH_MISMATCH
        content = f"answer of {signer}"
        digest = "0" * 64 if bad_hash else hashlib.sha256(content.encode()).hexdigest()
        command = SubmitSolution(
            self._ctx(signer, shift), task_id=tid, content_hash=digest, content=content
        )
        if self._attempt(command, expected):
            assert task is not None
            sid = command.ctx.txid
            task.subs[signer] = sid
            self.subs[sid] = MSub(task=tid, miner=signer, at=self.now)

    @action(1, signer=actors, stake=mostly(st.integers(1, 300), -1, 10**6),
          shift=nonce_shifts)  # fmt: skip
    def register_validator(self, signer: str, stake: int, shift: int) -> None:
        expected = self._payer_error(signer, stake, shift)
        if expected is None and signer in self.validators:
            expected = ErrorCode.ALREADY_REGISTERED
        if self._attempt(RegisterValidator(self._ctx(signer, shift), stake=stake), expected):
            self.balances[signer] -= stake
            self.validators[signer] = MValidator(stake=stake)

    @action(8, who=whos, pick=picks, score=scores, shift=nonce_shifts)
    def vote(self, who: int, pick: int, score: int, shift: int) -> None:
        sid = self._pick(self._sub_ids(), pick, "no-such-submission")
        sub = self.subs.get(sid)
        fresh = [v for v in self.validators if sub and v not in sub.votes and v != sub.miner]
        signer = self._who(fresh or list(self.validators), who)
        expected = self._nonce_error(shift)
        if expected is None:
            if signer not in self.validators:
                expected = ErrorCode.NOT_VALIDATOR
            elif sub is None:
                expected = ErrorCode.SUBMISSION_NOT_FOUND
            elif self.tasks[sub.task].status in FINAL:
                expected = ErrorCode.TASK_SETTLED
            elif signer == sub.miner:
                expected = ErrorCode.SELF_VOTE
            elif signer in sub.votes:
                expected = ErrorCode.ALREADY_VOTED
        command = CastVote(self._ctx(signer, shift), submission_id=sid, score=score)
        if self._attempt(command, expected):
            assert sub is not None
            sub.votes[signer] = (score, self.validators[signer].stake)
            task = self.tasks[sub.task]
            if task.status == VALIDATING and self._all_reached(task):
                self.due[sub.task] = self.now  # every submission agreed on: settle early
                event("settles early")

    @action(1,
        signer=actors, who=whos, pick=picks,
        which=st.sampled_from(["none", "own", "own", "other"]), shift=nonce_shifts,
    )  # fmt: skip
    def report_fraud(self, signer: str, who: int, pick: int, which: str, shift: int) -> None:
        tid = self._pick(self._task_ids(), pick, "no-such-task")
        task = self.tasks.get(tid)
        accused = self._who(list(task.stakes) if task else [], who)
        if which == "own" and task is not None and accused in task.subs:
            sid = task.subs[accused]
        elif which == "other":
            sid = self._pick(self._sub_ids(), pick, "no-such-submission")
        else:
            sid = ""
        expected = self._nonce_error(shift)
        if expected is None:
            if accused == signer:
                expected = ErrorCode.SELF_REPORT
            elif task is None:
                expected = ErrorCode.TASK_NOT_FOUND
            elif accused not in task.stakes:
                expected = ErrorCode.NOT_PARTICIPANT
            elif sid and task.subs.get(accused) != sid:
                expected = ErrorCode.SUBMISSION_NOT_FOUND
        command = ReportFraud(
            self._ctx(signer, shift), accused=accused, task_id=tid, kind="plagiarism",
            evidence_hash="e" * 64, submission_id=sid,
        )  # fmt: skip
        if self._attempt(command, expected):
            self.frauds[command.ctx.txid] = MFraud(accused=accused, task=tid)

    @action(2, who=whos, pick=picks, shift=nonce_shifts)
    def confirm_fraud(self, who: int, pick: int, shift: int) -> None:
        fid = self._pick(self._fraud_ids(), pick, "no-such-fraud")
        alert = self.frauds.get(fid)
        confirmed = alert.confirmations if alert else {}
        signer = self._who([v for v in self.validators if v not in confirmed], who)
        expected = self._nonce_error(shift)
        if expected is None:
            if signer not in self.validators:
                expected = ErrorCode.NOT_VALIDATOR
            elif alert is None:
                expected = ErrorCode.FRAUD_NOT_FOUND
            elif alert.confirmed:
                expected = ErrorCode.FRAUD_CLOSED
            elif signer in alert.confirmations:
                expected = ErrorCode.ALREADY_CONFIRMED
        if not self._attempt(ConfirmFraud(self._ctx(signer, shift), fraud_id=fid), expected):
            return
        assert alert is not None
        alert.confirmations[signer] = self.validators[signer].stake
        total = sum(v.stake for v in self.validators.values())
        if 2 * sum(alert.confirmations.values()) <= total:
            return
        alert.confirmed = True
        event(
            "fraud enforced "
            + ("after settlement" if task_final(self.tasks[alert.task]) else "withholding")
        )
        task = self.tasks[alert.task]
        if task.status not in FINAL:  # withhold: slash the stake to the treasury
            self._credit(TREASURY, task.stakes[alert.accused])
            task.stakes[alert.accused] = 0
            task.disqualified.add(alert.accused)
        record = self.miners[alert.accused]
        record.reputation = floor0(record.reputation - 20)

    # -- the clock -----------------------------------------------------------------------
    @action(3, dt=mostly(st.integers(1, 3_000), 0, 1, 5_000))
    def tick(self, dt: int) -> None:
        now = self.now + dt
        moved = self.ledger.tick(now)
        expected = sorted(t for t, at in self.due.items() if at <= now)
        assert moved == expected
        for tid in expected:
            task = self.tasks[tid]
            assert task.status not in FINAL
            if task.status == OPEN:
                if not task.subs:
                    self._close(tid, EXPIRED)
                    continue
                task.status = VALIDATING
                if task.deadline + task.window > now and not self._all_reached(task):
                    self.due[tid] = task.deadline + task.window
                    continue
            self._settle(tid)

    @action(1, dt=st.integers(1, 2_000))
    def wait_without_tick(self, dt: int) -> None:
        """Time passes before the sequencer's clock looks at the market."""
        self.ledger.now += dt

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        name = data.draw(schedule, label="action")
        arguments = data.draw(st.fixed_dictionaries(ACTIONS[name][1]), label=name)
        getattr(self, name)(**arguments)

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def money_is_conserved_and_locked_where_the_model_says(self) -> None:
        store = self.ledger.store
        market = self.ledger.market
        wallets = [a for a in store.values() if isinstance(a, Wallet)]
        assert all(w.balance >= 0 for w in wallets)
        assert sum(w.balance for w in wallets) + market.locked == self.ledger.chain.supply
        assert self.ledger.chain.supply == SUPPLY
        escrow = sum(t.escrow for t in self.tasks.values())
        stakes = sum(sum(t.stakes.values()) for t in self.tasks.values())
        validator_stake = sum(v.stake for v in self.validators.values())
        assert market.locked == escrow + stakes + validator_stake
        assert market.validator_stake == validator_stake
        assert (market.rewards_paid, market.validated) == (self.rewards_paid, self.validated)
        assert {w.address: w.balance for w in wallets if w.balance} == {
            a: b for a, b in self.balances.items() if b
        }
        assert {w.address: w.nonce for w in wallets if w.nonce} == self.nonces
        assert market.due == self.due

    @invariant()
    def tasks_agree_with_the_model(self) -> None:
        for tid, model in self.tasks.items():
            task: Task = self.ledger.get(Task.create_id(tid))
            closes = self.ledger.closed[task.id]
            assert closes <= 1, f"task {tid} closed {closes} times"
            assert closes == (1 if model.status in FINAL else 0)
            if task.final:
                assert task.locked == 0 and task.escrow == 0
            assert (task.status, task.winner, task.escrow) == (
                model.status, model.winner, model.escrow,
            )  # fmt: skip
            assert task.stakes == model.stakes
            assert set(task.disqualified) == model.disqualified
            assert task.submissions == model.subs
        for sid, model_sub in self.subs.items():
            sub: Submission = self.ledger.get(Submission.create_id(sid))
            assert {v: tuple(sw) for v, sw in sub.votes.items()} == model_sub.votes
        for fid, model_alert in self.frauds.items():
            alert: FraudAlert = self.ledger.get(FraudAlert.create_id(fid))
            assert alert.status == ("confirmed" if model_alert.confirmed else "open")
            assert alert.confirmations == model_alert.confirmations

    @invariant()
    def participants_agree_with_the_model(self) -> None:
        for address, model in self.miners.items():
            miner: Miner = self.ledger.get(Miner.create_id(address))
            assert (miner.completed, miner.failed, miner.earnings, miner.reputation) == (
                model.completed, model.failed, model.earnings, model.reputation,
            ), address  # fmt: skip
        for address, record in self.validators.items():
            validator: Validator = self.ledger.get(Validator.create_id(address))
            assert (validator.stake, validator.reputation) == (record.stake, record.reputation)
            assert (validator.agreed, validator.outliers) == (record.agreed, record.outliers)
        registered = {
            a.address for a in self.ledger.store.values() if isinstance(a, Miner | Validator)
        }
        assert registered == set(self.miners) | set(self.validators)


schedule = st.sampled_from(
    sorted((n for n, (weight, _) in ACTIONS.items() for _ in range(weight)), key=hash_of)
)
TestMarketMachine = MarketMachine.TestCase
TestMarketMachine.settings = settings(max_examples=150, stateful_step_count=100, deadline=None)


# -- consensus: a minority of stake cannot lift a score ------------------------------------
honest_votes = st.lists(
    st.tuples(st.integers(0, 100), st.integers(1, 1_000)), min_size=1, max_size=8
)


@given(honest=honest_votes, data=st.data())
@settings(max_examples=500, deadline=None)
def test_a_minority_voting_100_cannot_lift_the_score_above_the_best_honest_vote(
    honest: list[tuple[int, int]], data: st.DataObject
) -> None:
    honest_stake = sum(w for _, w in honest)
    # the colluders hold strictly less than half of all stake: colluding < honest
    count = data.draw(st.integers(1, 8), label="colluders")
    assume(honest_stake > count)
    cap = (honest_stake - 1) // count
    colluding = data.draw(
        st.lists(st.integers(1, cap), min_size=count, max_size=count), label="their stakes"
    )
    assert 2 * sum(colluding) < honest_stake + sum(colluding)
    votes = [Vote(f"h{i}", s, w) for i, (s, w) in enumerate(honest)]
    votes += [Vote(f"c{i}", 100, w) for i, w in enumerate(colluding)]
    order = data.draw(st.permutations(votes), label="order")
    result = decide(list(order))
    best = max(s for s, _ in honest)
    assert result.score_milli <= best * 1_000
    assert result.median <= best
