"""The marketplace's views (docs/MARKET_API.md) against the domain, on a real nats-server.

One ledger made with the domain holds every case: a task settled with a winner, one
expired, one cancelled, one with a confirmed fraud (stake slashed, payout withheld), a
fraud confirmed after settlement, an open alert, a task still open and one validating.
Each figure is checked against the aggregates the ledger was made from.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from domain.errors import LedgerError
from domain.fraud import FraudAlert
from domain.market_commands import CancelTask, ConfirmFraud, RegisterMiner, ReportFraud
from domain.market_types import FINAL
from domain.participants import Miner, Validator
from domain.submission import Submission
from domain.task import Task
from projections import BatchProjectionRunner, ProjectionDB, delete_database, open_projection_db
from projections.records import TOPIC_HEADER, VERSION_HEADER, ProjectionError
from projections.views.market_common import REP_FOLD, rep_run, reputation
from streams.server import EmbeddedNatsServer
from tests.market_harness import HOUR
from tests.market_ledger import RecordedLedger

PUB, M1, M2, M3, V1, V2, V3, V4 = "pub", "m1", "m2", "m3", "v1", "v2", "v3", "v4"
MARKET_TABLES = {
    "tasks": "task_id", "task_participants": "task_id, miner", "submissions": "submission_id",
    "votes": "submission_id, validator", "miners": "address", "validators": "address",
    "fraud_alerts": "fraud_id", "market": "chain_id", "market_due": "task_id",
}  # fmt: skip
OTHER_TABLES = {
    "wallets": "address",
    "chain": "chain_id",
    "transfers": "txid",
    "transactions": "txid",
    "tracking": "application_name",
}


@dataclass
class Market:
    ledger: RecordedLedger
    tasks: dict[str, str] = field(default_factory=dict)  # name -> task id
    stakes: dict[tuple[str, str], int] = field(default_factory=dict)  # (task, miner) -> stake
    alerts: dict[str, str] = field(default_factory=dict)  # name -> fraud id
    closed_at: dict[str, int] = field(default_factory=dict)  # name -> ms

    def join(self, miner: str, name: str, stake: int) -> None:
        self.ledger.join(miner, self.tasks[name], stake)
        self.stakes[self.tasks[name], miner] = stake

    def alert(self, name: str, reporter: str, accused: str, task: str, *confirm: str) -> None:
        ledger = self.ledger
        self.alerts[name] = ledger.run(ReportFraud(
            ledger.ctx(reporter), accused=accused, task_id=self.tasks[task], kind="plagiarism",
            evidence_hash="e" * 64,
        ))  # fmt: skip
        for validator in confirm:
            ledger.run(ConfirmFraud(ledger.ctx(validator), fraud_id=self.alerts[name]))


def build_market() -> Market:
    m = Market(RecordedLedger())
    ledger = m.ledger
    for who in (PUB, M1, M2, M3, V1, V2, V3, V4):
        ledger.fund(who, 100_000)
    for miner in (M1, M2, M3):
        ledger.run(RegisterMiner(
            ledger.ctx(miner), miner_id=f"id-{miner}", skills=("python", "sql"),
            specializations=("security_audit",), contact={"email": f"{miner}@example.org"},
        ))  # fmt: skip
    for validator, stake in ((V1, 100), (V2, 200), (V3, 300), (V4, 400)):
        ledger.validator(validator, stake)
    t0 = ledger.now
    for name, reward in (("won", 1_000), ("expired", 700), ("cancelled", 300), ("fraud", 2_000)):
        m.tasks[name] = ledger.publish(PUB, reward=reward, title=name)
    for miner, name, stake in ((M1, "won", 20), (M2, "won", 10), (M3, "won", 15),
                               (M1, "expired", 10), (M2, "cancelled", 10), (M1, "fraud", 300),
                               (M2, "fraud", 50)):  # fmt: skip
        m.join(miner, name, stake)
    good, meh = ledger.submit(M1, m.tasks["won"], "good"), ledger.submit(M2, m.tasks["won"], "meh")
    copied = ledger.submit(M1, m.tasks["fraud"], "copied")
    original = ledger.submit(M2, m.tasks["fraud"], "original")
    ledger.now += 1_000
    ledger.run(CancelTask(ledger.ctx(PUB), task_id=m.tasks["cancelled"]))
    m.closed_at["cancelled"] = ledger.now
    m.alert("withheld", M2, M1, "fraud", V1, V2, V4)  # 100, 300, then 700 of 1000: enforced
    ledger.tick(t0 + HOUR)  # won and fraud: validating; expired: nobody submitted
    m.closed_at["expired"] = ledger.now
    for validator, a, b in ((V1, 90, 50), (V2, 85, 55), (V3, 88, 40)):
        ledger.vote(validator, good, a)
        ledger.vote(validator, meh, b)
        ledger.vote(validator, copied, 99)  # the best score, but withheld
        ledger.vote(validator, original, 70)
    ledger.tick(ledger.now + 1)  # every submission reached consensus: both settle early
    m.closed_at["won"] = m.closed_at["fraud"] = ledger.now
    m.alert("late", M3, M1, "won", V3, V4)  # after settlement: nothing withheld
    m.tasks["open"] = ledger.publish(PUB, reward=500, title="open", deadline=ledger.now + 9 * HOUR)
    m.join(M3, "open", 25)
    m.tasks["validating"] = ledger.publish(PUB, reward=400, title="validating")
    m.join(M2, "validating", 10)
    late = ledger.submit(M2, m.tasks["validating"], "late")
    ledger.tick(ledger.now + HOUR)
    ledger.vote(V1, late, 80)  # one vote: no consensus yet
    m.alert("open", M2, M3, "open", V1)
    with pytest.raises(LedgerError):
        ledger.vote(V4, good, 10)  # the task is settled: a rejected transaction
    return m


@pytest.fixture(scope="module")
def market() -> Market:
    return build_market()


@dataclass
class Stream:
    nc: NATS
    name: str
    prefix: str

    async def publish(self, messages: list[tuple[str, bytes, dict[str, str]]]) -> int:
        js, last = self.nc.jetstream(), 0
        for subject, data, headers in messages:
            last = (await js.publish(subject, data, headers=headers, stream=self.name)).seq
        return last

    async def project(self, db: ProjectionDB, last: int, batch_size: int) -> None:
        runner = BatchProjectionRunner(
            db, self.nc, stream=self.name, prefix=self.prefix, batch_size=batch_size
        )
        await runner.start()
        try:
            assert await runner.wait_for(last, timeout=30), runner.error
        finally:
            await runner.stop()


@pytest.fixture
async def stream(nats_server: EmbeddedNatsServer) -> AsyncIterator[Stream]:
    nc = await nats.connect(nats_server.url)
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"MARKET_{tag}", f"m{tag}.ledger"
    await nc.jetstream().add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    try:
        yield Stream(nc, name, prefix)
    finally:
        await nc.jetstream().delete_stream(name)
        await nc.close()


def of_type(ledger: RecordedLedger, kind: type) -> list[Any]:
    return [a for a in ledger.store.values() if isinstance(a, kind)]


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> dict[Any, tuple[Any, ...]]:
    """First column -> the others."""
    return {r[0]: tuple(r[1:]) for r in con.execute(sql).fetchall()}


def check_tasks(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    tasks = of_type(m.ledger, Task)
    expected = {t.task_id: (
        t.publisher, t.title, t.reward, t.stake_required, t.deadline, t.validation_window,
        t.quality_threshold, t.max_participants, t.status, len(t.stakes), len(t.submissions),
        t.winner or None, t.submissions[t.winner] if t.winner else None,
        t.payout if t.final else None, t.reward - t.payout if t.final else None, t.published_at,
    ) for t in tasks}  # fmt: skip
    assert (
        rows(
            con,
            """SELECT task_id, publisher, title, reward_amount, stake_required,
        deadline, validation_window, quality_threshold, max_participants, status,
        participants_count, submissions_count, winner, winning_submission, payout, refund,
        published_at FROM tasks""",
        )
        == expected
    )
    statuses = {
        name: t.status
        for name, task in m.tasks.items()
        for t in [m.ledger.get(Task.create_id(task))]
    }
    assert statuses == {
        "won": "settled",
        "expired": "expired",
        "cancelled": "cancelled",
        "fraud": "settled",
        "open": "open",
        "validating": "validating",
    }
    closed = rows(con, "SELECT task_id, closed_at FROM tasks")
    assert {t: c for t, (c,) in closed.items() if c is not None} == {
        m.tasks[name]: at for name, at in m.closed_at.items()
    }
    won, fraud = (m.ledger.get(Task.create_id(m.tasks[n])) for n in ("won", "fraud"))
    assert (won.winner, fraud.winner) == (M1, M2)  # M1's better score on "fraud" withheld


def check_participants(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    got = con.execute("""SELECT task_id, miner, stake, status, returned, slashed
                         FROM task_participants""").fetchall()
    expected = set()
    for task in of_type(m.ledger, Task):
        for miner, left in task.stakes.items():  # left: what the task still holds
            stake = m.stakes[task.task_id, miner]
            slashed = stake if miner in task.disqualified else 0  # a slash takes it all
            status = "slashed" if slashed else "returned" if task.final else "joined"
            returned = stake - slashed - left if task.final else 0
            assert left == (0 if task.final else stake - slashed)
            expected.add((task.task_id, miner, stake, status, returned, slashed))
    assert set(got) == expected and len(got) == len(expected)
    assert ("slashed", 300) in {(s, x) for _, _, _, s, _, x in got}


def check_submissions(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    expected = {}
    for s in of_type(m.ledger, Submission):
        task = m.ledger.get(Task.create_id(s.task_id))
        scored = s.score_milli >= 0
        c = s.consensus()
        expected[s.submission_id] = (
            s.task_id, s.miner, s.content_hash, s.content, s.submitted_at, len(s.votes),
            s.reached if scored else None, s.score_milli if scored else None,
            c.sd_milli if scored else None, c.confidence_milli if scored else None,
            c.median if scored else None,
            task.submissions.get(task.winner) == s.submission_id if task.final else None,
        )  # fmt: skip
    assert (
        rows(
            con,
            """SELECT submission_id, task_id, miner, content_hash, content,
        submitted_at, votes, reached, score_milli, sd_milli, confidence_milli, median, won
        FROM submissions""",
        )
        == expected
    )
    assert sum(1 for e in expected.values() if e[-1]) == 2  # one winner per settled task
    votes = {
        (s.submission_id, s.task_id, v, score, weight)
        for s in of_type(m.ledger, Submission)
        for v, (score, weight) in s.votes.items()
    }
    got = con.execute("SELECT submission_id, task_id, validator, score, weight FROM votes")
    assert set(got.fetchall()) == votes
    assert con.execute("SELECT count(*) FROM votes").fetchone() == (len(votes),)
    assert con.execute("""SELECT count(*) FROM votes v JOIN events e
        ON e.seq = v.seq AND e.time = v.time AND e.type = 'Submission.Voted'""").fetchone() == (
        len(votes),
    )  # time: the vote event's own timestamp


def check_miners_and_validators(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    miners = {x.address: (
        x.miner_id, x.skills, x.specializations, x.contact, x.reputation, x.completed,
        x.failed, x.earnings,
        x.completed / (x.completed + x.failed) if x.completed + x.failed else 0.0,
    ) for x in of_type(m.ledger, Miner)}  # fmt: skip
    got = rows(
        con,
        """SELECT address, miner_id, skills, specializations, contact, reputation,
        completed, failed, earnings, success_rate FROM miners""",
    )
    decoded = {a: (r[0], *(json.loads(j) for j in r[1:4]), *r[4:]) for a, r in got.items()}
    assert decoded == miners
    assert miners[M1][5:] == (1, 1, 1_000, 0.5)  # won "won", failed "fraud"; expiry: neither
    validators = {
        v.address: (v.stake, v.reputation, v.votes, v.agreed, v.outliers)
        for v in of_type(m.ledger, Validator)
    }
    assert (
        rows(con, "SELECT address, stake, reputation, votes, agreed, outliers FROM validators")
        == validators
    )


def check_fraud(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    alerts = {
        a.fraud_id: (
            a.reporter,
            a.accused,
            a.task_id,
            a.kind,
            a.status,
            len(a.confirmations),
            a.confirmed_stake,
        )
        for a in of_type(m.ledger, FraudAlert)
    }
    assert (
        rows(
            con,
            """SELECT fraud_id, reporter, accused, task_id, kind, status,
        confirmations, confirmed_stake FROM fraud_alerts""",
        )
        == alerts
    )
    enforced = rows(
        con, "SELECT fraud_id, slashed, withheld, enforced_at IS NOT NULL FROM fraud_alerts"
    )
    assert {name: enforced[fid] for name, fid in m.alerts.items()} == {
        "withheld": (300, True, True),
        "late": (0, False, True),
        "open": (0, None, False),
    }


def check_market(con: duckdb.DuckDBPyConnection, m: Market) -> None:
    market = m.ledger.market
    assert con.execute("""SELECT chain_id, locked, validator_stake, rewards_paid, validated,
        open_tasks FROM market""").fetchall() == [
        (
            market.chain_id,
            market.locked,
            market.validator_stake,
            market.rewards_paid,
            market.validated,
            len(market.due),
        )
    ]
    assert dict(con.execute("SELECT task_id, due_at FROM market_due").fetchall()) == market.due
    parts = con.execute("""SELECT
        (SELECT sum(reward_amount) FROM tasks WHERE status IN ('open', 'validating')),
        (SELECT sum(stake - slashed - returned) FROM task_participants),
        (SELECT sum(stake) FROM validators), (SELECT locked FROM market)""").fetchone()
    assert parts is not None and parts[0] + parts[1] + parts[2] == parts[3] > 0
    assert (parts[0], parts[1]) == (900, 35)  # "open" and "validating": rewards, stakes
    held = con.execute("""SELECT (SELECT sum(balance) FROM wallets) + (SELECT locked FROM market),
        (SELECT supply FROM chain)""").fetchone()
    assert held is not None and held[0] == held[1] == m.ledger.chain.supply


async def test_market_views_match_the_domain(
    stream: Stream, market: Market, tmp_path: Path
) -> None:
    last = await stream.publish(market.ledger.messages_for(stream.prefix))
    started = datetime.now(UTC)
    with open_projection_db(tmp_path / "market.duckdb") as db:
        await stream.project(db, last, batch_size=40)
        with db.cursor() as con:
            check_tasks(con, market)
            check_participants(con, market)
            check_submissions(con, market)
            check_miners_and_validators(con, market)
            check_fraud(con, market)
            check_market(con, market)
            txs = con.execute("""SELECT count(*), count(*) FILTER (status = 'rejected'),
                min(projected_at), max(projected_at) FROM transactions""").fetchone()
    assert txs is not None and txs[:2] == (len(market.ledger.records), 1)
    assert started <= txs[2] <= txs[3] <= datetime.now(UTC)
    assert {t.status for t in of_type(market.ledger, Task)} - FINAL == {"open", "validating"}


def dump(db: ProjectionDB) -> dict[str, list[tuple[Any, ...]]]:
    tables = {**MARKET_TABLES, **OTHER_TABLES}
    with db.cursor() as con:
        return {t: con.execute(
            f"SELECT * {'EXCLUDE (projected_at)' if t == 'transactions' else ''} "
            f"FROM {t} ORDER BY {key}").fetchall() for t, key in tables.items()}  # fmt: skip


async def test_rebuild_gives_the_same_rows_whatever_the_batches(
    stream: Stream, market: Market, tmp_path: Path
) -> None:
    """Delete the file and project again in batches of 7: a task's or a miner's events
    then fall in many batches instead of one; every row comes out the same."""
    last = await stream.publish(market.ledger.messages_for(stream.prefix))
    path = tmp_path / "rebuild.duckdb"
    with open_projection_db(path) as db:
        await stream.project(db, last, batch_size=5_000)
        first = dump(db)
    delete_database(path)
    with open_projection_db(path) as db:
        await stream.project(db, last, batch_size=7)
        assert dump(db) == first
    assert all(first[t] for t in MARKET_TABLES)


async def test_an_event_for_a_task_never_published_stops_the_runner(
    stream: Stream, tmp_path: Path
) -> None:
    joined = json.dumps(
        {
            "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"},
            "miner": "m1",
            "stake": 10,
            "tx": "",
        }
    ).encode()
    headers = {TOPIC_HEADER: "domain.task:Task.Joined", VERSION_HEADER: "2"}
    last = await stream.publish([(f"{stream.prefix}.task.{'0' * 64}", joined, headers)])
    with open_projection_db(tmp_path / "foreign.duckdb") as db:
        runner = BatchProjectionRunner(db, stream.nc, stream=stream.name, prefix=stream.prefix)
        await runner.start()
        assert not await runner.wait_for(last, timeout=5)
        await runner.stop()
        assert isinstance(runner.error, ProjectionError)
        assert "never published" in str(runner.error) and runner.position == 0
        with db.cursor() as con:
            assert con.execute("SELECT count(*) FROM tasks").fetchone() == (0,)


def test_reputation_fold_floors_at_zero_like_the_domain() -> None:
    """``reputation`` over any split of deltas into batches equals max(0, r + d) step by
    step, including walks that hit the floor."""
    rng = random.Random(5)
    con = duckdb.connect()
    for _ in range(60):
        deltas = [rng.choice((-20, -5, -2, 0, 1, 2, 10)) for _ in range(rng.randint(1, 20))]
        expected = value = rng.choice((0, 3, 100))
        for d in deltas:
            expected = max(0, expected + d)
        n = len(deltas)
        cuts = sorted({*rng.sample(range(1, n), rng.randint(0, n - 1)), n})
        start = 0
        for end in cuts:
            part = deltas[start:end]
            (value,) = con.execute(
                f"""SELECT {reputation("$1")} FROM (SELECT {REP_FOLD} FROM (
                        SELECT *, {rep_run("delta")} FROM (
                            SELECT 'k' AS key, unnest($2::BIGINT[]) AS delta,
                                   generate_subscripts($2::BIGINT[], 1) AS seq)))""",
                [value, part],
            ).fetchone() or (None,)
            start = end
        assert value == expected, (deltas, cuts)
