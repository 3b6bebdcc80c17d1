"""Projections against a real nats-server and a real DuckDB file.

The ledger is made with the domain (projections/sample.py) and published in the LEDGER
wire format to a stream of the test's own; the expected figures come from the aggregates.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from projections import BatchProjectionRunner, ProjectionDB, delete_database, open_projection_db
from projections.records import ProjectionError
from projections.sample import SampleLedger, build_sample
from projections.views import default_views
from projections.views.transactions import TransactionsView
from projections.views.wallets import WalletsView
from streams.server import EmbeddedNatsServer

TABLE_KEYS = {
    "events": "seq",
    "wallets": "address",
    "transactions": "txid",
    "transfers": "txid",
    "chain": "chain_id",
    "commits": "seq",
    "tracking": "application_name",
}


@dataclass
class Ledger:
    nc: NATS
    stream: str
    prefix: str

    async def publish(self, messages: list[tuple[str, bytes, dict[str, str]]]) -> int:
        js = self.nc.jetstream()
        last = 0
        for subject, data, headers in messages:
            ack = await js.publish(subject, data, headers=headers, stream=self.stream)
            last = ack.seq
        return last

    def runner(self, db: ProjectionDB, **kwargs: object) -> BatchProjectionRunner:
        return BatchProjectionRunner(db, self.nc, stream=self.stream, prefix=self.prefix, **kwargs)


@pytest.fixture
async def ledger(nats_server: EmbeddedNatsServer) -> AsyncIterator[Ledger]:
    nc = await nats.connect(nats_server.url)
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"LEDGER_{tag}", f"t{tag}.ledger"
    await nc.jetstream().add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.>"]))
    try:
        yield Ledger(nc, stream, prefix)
    finally:
        await nc.jetstream().delete_stream(stream)
        await nc.close()


@pytest.fixture(scope="module")
def sample() -> SampleLedger:
    return build_sample(400, prefix="PREFIX")


def messages_for(sample: SampleLedger, prefix: str) -> list[tuple[str, bytes, dict[str, str]]]:
    return [(prefix + s[len("PREFIX") :], d, dict(h)) for s, d, h in sample.messages]


async def project_all(ledger: Ledger, db: ProjectionDB, last: int, **kwargs: object) -> None:
    runner = ledger.runner(db, **kwargs)
    await runner.start()
    try:
        assert await runner.wait_for(last, timeout=30), runner.error
    finally:
        await runner.stop()


def q(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return con.execute(sql, list(params)).fetchall()


# Columns that record the projector's wall clock rather than anything in the ledger:
# the only ones a rebuild may not reproduce.
WALL_CLOCK_COLUMNS = {"projected_at"}


def dump(db: ProjectionDB) -> dict[str, list[tuple[object, ...]]]:
    with db.cursor() as con:
        tables = {}
        for table, key in TABLE_KEYS.items():
            columns = [
                name
                for (name,) in q(
                    con,
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    table,
                )
            ]
            kept = ", ".join(c for c in columns if c not in WALL_CLOCK_COLUMNS)
            tables[table] = q(con, f"SELECT {kept} FROM {table} ORDER BY {key}")
        return tables


async def test_views_match_the_domain(ledger: Ledger, sample: SampleLedger, tmp_path: Path) -> None:
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    seen: list[tuple[int, list[str]]] = []
    db = open_projection_db(tmp_path / "views.duckdb")
    runner = ledger.runner(db, batch_size=100, on_projected=lambda s, t: seen.append((s, t)))
    await runner.start()
    assert await runner.wait_for(last, timeout=30), runner.error
    await runner.stop()
    con = db.cursor()

    wallets = {a: (b, n) for a, b, n in q(con, "SELECT address, balance, nonce FROM wallets")}
    assert wallets == {a: (w.balance, w.nonce) for a, w in sample.wallets.items()}
    chain = sample.chain
    assert chain is not None
    row = q(con, "SELECT treasury, genesis_supply, minted, supply FROM chain")
    assert row == [(chain.treasury, chain.genesis_supply, chain.minted, chain.supply)]
    assert q(con, "SELECT sum(balance) FROM wallets") == [(chain.supply,)]
    assert q(con, "SELECT sum(received) - sum(sent) FROM wallets") == [(chain.supply,)]

    txs = {
        r[0]: r[1:]
        for r in q(
            con, "SELECT txid, status, kind, signer, nonce, code, sequenced_at FROM transactions"
        )
    }
    assert txs == {
        t: (r.status, r.kind, r.signer, r.nonce, r.code, r.sequenced_at)
        for t, r in sample.records.items()
    }
    moved = [r for r in sample.records.values() if r.status == "accepted"]
    transfers = q(con, "SELECT kind, count(*), sum(amount) FROM transfers GROUP BY ALL ORDER BY 1")
    assert [k for k, _, _ in transfers] == ["mint", "transfer"]
    assert sum(n for _, n, _ in transfers) == len(moved)
    assert dict((k, s) for k, _, s in transfers)["mint"] == chain.minted
    odd = "kind = 'mint' AND from_address IS NOT NULL OR to_address IS NULL OR amount IS NULL"
    assert q(con, f"SELECT count(*) FROM transfers WHERE {odd}") == [(0,)]

    types = Counter(h["Hive-Topic"].split(":")[1] for _, _, h in sample.messages)
    assert dict(q(con, "SELECT type, count(*) FROM events GROUP BY type")) == types
    assert q(con, "SELECT min(seq), max(seq), count(*), count(time) FROM events") == [
        (1, last, last, last)
    ]
    commits = sum(1 for _, _, h in sample.messages if "Hive-Commit" in h)
    assert q(con, "SELECT count(*), sum(count) FROM commits") == [(commits, last)]

    assert seen[-1][0] == last and [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert sorted(t for _, ts in seen for t in ts) == sorted(sample.records)
    assert runner.position == last and runner.stats.events == last and runner.stats.batches >= 4
    assert runner.stats.max_lag_ms >= 0 and runner.error is None
    con.close()
    db.close()


async def test_rebuild_from_scratch_gives_identical_tables(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    path = tmp_path / "rebuild.duckdb"
    with open_projection_db(path) as db:
        await project_all(ledger, db, last, batch_size=1000)
        first = dump(db)
    delete_database(path)
    assert not path.exists()
    with open_projection_db(path) as db:
        await project_all(ledger, db, last, batch_size=37)  # other batch boundaries
        assert dump(db) == first
    assert len(first["events"]) == last


async def test_exactly_once_after_a_crash_inside_a_batch(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    """A view fails mid-transaction after other views wrote their rows: the batch rolls
    back whole; a restart resumes at the last committed batch and ends identical to a
    clean run."""
    last = await ledger.publish(messages_for(sample, ledger.prefix))

    class CrashingTransactions(TransactionsView):
        calls = 0

        def apply(self, con, batch):  # type: ignore[no-untyped-def]
            super().apply(con, batch)  # its rows are written, then the "crash"
            CrashingTransactions.calls += 1
            if CrashingTransactions.calls == 4:
                raise RuntimeError("simulated crash")

    path = tmp_path / "crash.duckdb"
    views = [
        CrashingTransactions() if isinstance(v, TransactionsView) else v for v in default_views()
    ]
    with open_projection_db(path) as db:
        runner = ledger.runner(db, views=views, batch_size=50)
        await runner.start()
        await runner.wait_for(last, timeout=10)
        await runner.stop()
        assert isinstance(runner.error, RuntimeError)
        position = runner.position
        assert 0 < position < last
        assert db.tracking.positions() == {v.name: position for v in views}
        with db.cursor() as con:
            assert q(con, "SELECT max(seq), count(*) FROM events") == [(position, position)]
    with open_projection_db(path) as db:
        await project_all(ledger, db, last, batch_size=50)
        resumed = dump(db)
    with open_projection_db(tmp_path / "clean.duckdb") as db:
        await project_all(ledger, db, last)
        assert dump(db) == resumed


async def test_a_view_added_later_catches_up_alone(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    path = tmp_path / "later.duckdb"
    with open_projection_db(path) as db:
        views = [v for v in default_views() if not isinstance(v, WalletsView)]
        await project_all(ledger, db, last, views=views)
    with open_projection_db(path) as db:
        runner = ledger.runner(db)
        assert runner.projector.positions["wallets"] == 0
        assert runner.projector.positions["events"] == last
        await runner.start()
        assert await runner.wait_for(last, timeout=30)
        await runner.stop()
        later = dump(db)
    with open_projection_db(tmp_path / "clean.duckdb") as db:
        await project_all(ledger, db, last)
        assert dump(db) == later


async def test_a_new_view_version_rebuilds_that_view(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    path = tmp_path / "version.duckdb"
    with open_projection_db(path) as db:
        await project_all(ledger, db, last)
        before = dump(db)

    class WalletsV2(WalletsView):
        version = WalletsView.version + 1

    with open_projection_db(path) as db:
        views = [WalletsV2() if isinstance(v, WalletsView) else v for v in default_views()]
        runner = ledger.runner(db, views=views)
        assert runner.projector.reset == ["wallets"]
        assert runner.projector.positions["wallets"] == 0
        await runner.start()
        assert await runner.wait_for(last, timeout=30)
        await runner.stop()
        assert dump(db) == before


async def test_follows_the_live_ledger_and_skips_bookkeeping(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    messages = messages_for(sample, ledger.prefix)
    half = len(messages) // 2
    await ledger.publish(messages[:half])
    decided: set[str] = set()

    async def on_projected(_seq: int, txids: list[str]) -> None:  # async callbacks work too
        decided.update(txids)

    with open_projection_db(tmp_path / "live.duckdb") as db:
        runner = ledger.runner(db, batch_size=64, on_projected=on_projected)
        await runner.start()
        tracking = json.dumps({"application_name": "intake", "notification_id": 9}).encode()
        await ledger.publish([(f"{ledger.prefix}._tracking.intake", tracking, {})])
        commit = {"prev": "00", "hash": "11", "first_seq": 1, "count": 0, "time": 5}
        await ledger.publish([(f"{ledger.prefix}._commit", json.dumps(commit).encode(), {})])
        last = await ledger.publish(messages[half:])
        assert await runner.wait_for(last, timeout=30), runner.error
        await runner.stop()
        with db.cursor() as con:
            assert q(con, "SELECT count(*) FROM events") == [(len(messages),)]
            assert q(con, "SELECT count(*) FROM events WHERE contains(subject, '._')") == [(0,)]
            assert q(con, "SELECT hash FROM commits WHERE seq = ?", half + 2) == [("11",)]
            assert runner.position == last == len(messages) + 2
        assert decided == set(sample.records)
        assert runner.figures()["position"] == last and runner.figures()["failed"] == 0


async def test_a_foreign_message_stops_the_runner_without_applying_it(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    messages = messages_for(sample, ledger.prefix)[:30]
    good = await ledger.publish(messages)
    headers = {"Hive-Topic": "a:B", "Hive-Version": "1"}
    await ledger.publish([(f"{ledger.prefix}.wallet.x", b"not json", headers)])
    with open_projection_db(tmp_path / "bad.duckdb") as db:
        runner = ledger.runner(db, batch_size=10)
        await runner.start()
        assert not await runner.wait_for(good + 1, timeout=10)
        await runner.stop()
        assert isinstance(runner.error, ProjectionError)
        assert good - 10 <= runner.position <= good  # the failed batch is not applied
        with db.cursor() as con:
            assert q(con, "SELECT count(*) FROM events") == [(runner.position,)]


async def test_stop_meets_its_deadline_and_restart_resumes(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    path = tmp_path / "stop.duckdb"
    with open_projection_db(path) as db:
        runner = ledger.runner(db, batch_size=10)
        await runner.start()
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await runner.stop(timeout=1.0)
        assert loop.time() - started < 3.0
        assert not runner.running
        stopped_at = runner.position
    with open_projection_db(path) as db:
        runner = ledger.runner(db)
        assert runner.position == stopped_at
        await project_all(ledger, db, last)
        assert db.tracking.max_tracking_id("events") == last


CHILD = """
import asyncio, sys
import nats
from projections import BatchProjectionRunner, open_projection_db

async def main(url, stream, prefix, path):
    nc = await nats.connect(url)
    db = open_projection_db(path)
    runner = BatchProjectionRunner(db, nc, stream=stream, prefix=prefix, batch_size=20,
        on_projected=lambda seq, txids: print("projected", seq, flush=True))
    await runner.start()
    await asyncio.sleep(60)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_exactly_once_after_kill_9(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    """A projector process killed with SIGKILL mid-run: the file holds whole batches only,
    and a restart ends identical to a clean run."""
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    path = tmp_path / "killed.duckdb"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        nats_server.url,
        ledger.stream,
        ledger.prefix,
        str(path),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    reported = 0
    while reported < last // 3:
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line, "the child projector ended early"
        reported = int(line.split()[1])
    child.kill()
    await child.wait()
    with open_projection_db(path) as db:
        positions = set(db.tracking.positions().values())
        assert len(positions) == 1  # every view at the same batch boundary
        position = positions.pop()
        assert reported <= position < last
        with db.cursor() as con:
            assert q(con, "SELECT count(*), max(seq) FROM events") == [(position, position)]
        await project_all(ledger, db, last)
        resumed = dump(db)
    with open_projection_db(tmp_path / "clean.duckdb") as db:
        await project_all(ledger, db, last)
        assert dump(db) == resumed


async def test_an_idle_runner_folds_the_wal_into_the_file(
    ledger: Ledger, sample: SampleLedger, tmp_path: Path
) -> None:
    """Checkpoints wait for a quiet moment (projections/db.py): once the feed is idle, the
    WAL is folded in, and the views read the same before and after."""
    last = await ledger.publish(messages_for(sample, ledger.prefix))
    db = ProjectionDB(tmp_path / "idle.duckdb")
    runner = ledger.runner(db, idle_checkpoint_bytes=1)
    await runner.start()
    try:
        assert await runner.wait_for(last, timeout=30), runner.error
        before = dump(db)
        deadline = asyncio.get_running_loop().time() + 10
        while db.wal_bytes() > 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert db.wal_bytes() == 0
        assert dump(db) == before and before["events"]
    finally:
        await runner.stop()
        db.close()


async def test_half_a_write_waits_for_its_commit_even_with_nothing_pending(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A consumer can report nothing pending while an atomic write is still arriving.
    Once the ledger shows commit records, the projector waits for the write's commit."""

    def note(key: str, version: int, commit: bool = False) -> tuple[str, bytes, dict[str, str]]:
        headers = {"Hive-Topic": "tests:Note.Made", "Hive-Version": str(version)}
        if commit:
            headers["Hive-Commit"] = "{}"
        return f"{ledger.prefix}.note.{key}", b'{"n": 1}', headers

    first = await ledger.publish([note("a", 1), note("b", 1, commit=True)])
    db = open_projection_db(tmp_path / "half.duckdb")
    runner = ledger.runner(db)
    await runner.start()
    assert await runner.wait_for(first, timeout=30), runner.error
    half = await ledger.publish([note("c", 1)])  # the first part of a write: no commit yet
    assert not await runner.wait_for(half, timeout=1.5)
    assert runner.position == first
    rest = await ledger.publish([note("d", 1, commit=True)])
    assert await runner.wait_for(rest, timeout=30), runner.error
    await runner.stop()
    assert q(db.cursor(), "SELECT count(*) FROM events") == [(4,)]


class _ScriptedFeed:
    """A LedgerFeed's ``take`` that records what it was asked for and has nothing more."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def take(self, max_messages: int, timeout: float) -> list[object]:
        self.asked.append(max_messages)
        await asyncio.sleep(min(timeout, 0.01) if max_messages > 0 else 0)
        return []


async def test_a_full_batch_gathers_nothing_more(tmp_path: Path) -> None:
    """With a batch size under GATHER_MIN, a take that already fills the batch is not
    followed by takes of zero messages (which returned at once: a busy loop for
    GATHER_S per batch), and a smaller take still waits for more up to the batch size."""
    db = open_projection_db(tmp_path / "gather.duckdb")
    runner = BatchProjectionRunner(db, None, batch_size=600)  # type: ignore[arg-type]
    full = [object()] * 600
    feed = _ScriptedFeed()
    assert await runner._gather(feed, list(full)) == full  # type: ignore[arg-type]
    assert feed.asked == []
    assert len(await runner._gather(feed, [object()] * 550)) == 550  # type: ignore[arg-type]
    assert feed.asked and all(n == 50 for n in feed.asked)  # waited for the rest of it
    db.close()
