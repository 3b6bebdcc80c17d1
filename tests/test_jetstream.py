"""The JetStream helpers, the commit chain and the writer's fences, on a real nats-server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID, uuid4

import nats
import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent, Tracking
from nats.aio.client import Client as NATS

from streams.commit_chain import ChainError, verify_chain, verify_stream
from streams.jetstream import (
    ERR_WRONG_LAST_SEQUENCE,
    BatchRefusedError,
    StoredMsg,
    _parse_header_lines,
    delete_stream,
    direct_get_batch,
    direct_get_last,
    ensure_intake_stream,
    ensure_ledger_stream,
    ensure_stream,
    install_fast_header_parser,
    iter_stream,
    multi_last,
    probe_batch_limit,
    publish_atomic_batch,
    stream_info,
)
from streams.loop_thread import LoopClosedError, LoopThread
from streams.persistence import Factory
from streams.server import BATCH_LIMIT, EmbeddedNatsServer
from streams.subjects import (
    InvalidAggregateIdError,
    aggregate_subject,
    is_reserved,
    originator_id_of,
    tracking_subject,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def nc(nats_server: EmbeddedNatsServer) -> AsyncIterator[NATS]:
    conn = await nats.connect(nats_server.url)
    yield conn
    await conn.close()


@pytest.fixture
async def ledger(nc: NATS) -> AsyncIterator[tuple[str, str]]:
    """A fresh LEDGER-like stream: (name, prefix)."""
    suffix = uuid4().hex[:10]
    name, prefix = f"L_{suffix}", f"l{suffix}"
    await ensure_ledger_stream(nc, name, prefix)
    yield name, prefix
    await delete_stream(nc, name)


@pytest.fixture
def factory(nats_server: EmbeddedNatsServer) -> Iterator[Factory]:
    suffix = uuid4().hex[:10]
    env = {
        Factory.NATS_URL: nats_server.url,
        Factory.LEDGER_STREAM: f"F_{suffix}",
        Factory.LEDGER_PREFIX: f"f{suffix}",
    }
    made = Factory(env)
    yield made
    made.close()


def event(originator_id: UUID | str, version: int, data: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id, version, "tests:Happened", data)


# ------------------------------------------------------------------------ streams


async def test_ensure_streams_create_then_update(nc: NATS) -> None:
    suffix = uuid4().hex[:8]
    info = await ensure_ledger_stream(nc, f"LG_{suffix}", f"lg{suffix}")
    config = info["config"]
    assert config["allow_atomic"] and config["allow_direct"]
    assert config["deny_delete"] and config["deny_purge"] and config["storage"] == "file"
    again = await ensure_ledger_stream(
        nc, f"LG_{suffix}", f"lg{suffix}", extra={"max_bytes": 10**9}
    )
    assert again["config"]["max_bytes"] == 10**9 and again["config"]["allow_atomic"]
    intake = await ensure_intake_stream(nc, f"IN_{suffix}", f"in{suffix}", duplicate_window_s=60)
    assert intake["config"]["duplicate_window"] == 60 * 10**9
    assert intake["config"]["max_msg_size"] == 65536
    for name in (f"LG_{suffix}", f"IN_{suffix}"):
        assert await delete_stream(nc, name)
    assert await stream_info(nc, f"LG_{suffix}") is None


# ------------------------------------------------------------------ atomic batches


async def test_atomic_batch_stores_all_in_order(nc: NATS, ledger: tuple[str, str]) -> None:
    name, prefix = ledger
    messages = [(f"{prefix}.a.{i % 3}", f"m{i}".encode(), {"K": str(i)}) for i in range(600)]
    ack = await publish_atomic_batch(nc, messages, timeout=10)
    assert ack["seq"] == 600 and ack["count"] == 600
    stored = [m async for m in iter_stream(nc, name, f"{prefix}.>", page=250)]
    assert [m.data for m in stored] == [m[1] for m in messages]
    assert [m.headers["K"] for m in stored] == [str(i) for i in range(600)]


async def test_atomic_batch_is_all_or_nothing(nc: NATS, ledger: tuple[str, str]) -> None:
    name, prefix = ledger
    await publish_atomic_batch(nc, [(f"{prefix}.a.x", b"1", None)], timeout=5)
    bad = {"Nats-Expected-Last-Subject-Sequence": "7"}  # the subject's last is 1
    batch = [
        (f"{prefix}.a.y", b"2", None),
        (f"{prefix}.a.x", b"3", bad),
        (f"{prefix}.a.z", b"4", None),
    ]
    with pytest.raises(BatchRefusedError) as refused:
        await publish_atomic_batch(nc, batch, timeout=5)
    assert refused.value.err_code == ERR_WRONG_LAST_SEQUENCE
    info = await stream_info(nc, name)
    assert info is not None and info["state"]["last_seq"] == 1
    assert await direct_get_last(nc, name, f"{prefix}.a.y") is None


async def test_atomic_batch_limits_are_checked_before_sending(nc: NATS) -> None:
    with pytest.raises(ValueError, match="limit"):
        await publish_atomic_batch(nc, [("x.y", b"", None)] * 1001, timeout=1)
    with pytest.raises(ValueError, match="subject"):
        await publish_atomic_batch(nc, [("x y", b"", None), ("x.y", b"", None)], timeout=1)


async def test_the_embedded_server_takes_larger_batches_and_the_probe_finds_them(
    nc: NATS, ledger: tuple[str, str]
) -> None:
    name, prefix = ledger
    assert BATCH_LIMIT > 1000
    assert await probe_batch_limit(nc, f"{prefix}._probe", BATCH_LIMIT, timeout=10) == BATCH_LIMIT
    info = await stream_info(nc, name)
    assert info is not None and info["state"]["messages"] == 0, "a probe stores nothing"
    messages = [(f"{prefix}.a.{i % 7}", b"m", None) for i in range(BATCH_LIMIT)]
    with pytest.raises(ValueError, match="limit"):  # the default limit, unless raised
        await publish_atomic_batch(nc, messages, timeout=10)
    ack = await publish_atomic_batch(nc, messages, timeout=10, limit=BATCH_LIMIT)
    assert ack["count"] == BATCH_LIMIT


@pytest.mark.parametrize(("configured", "found"), [(None, 1000), (2000, 2000), (500, 500)])
async def test_a_server_with_a_lower_limit_is_probed_down_to_it(
    tmp_path: Path, configured: int | None, found: int
) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", batch_limit=configured) as server:
        conn = await nats.connect(server.url)
        try:
            await ensure_ledger_stream(conn, "LD", "ld")
            assert await probe_batch_limit(conn, "ld._probe", 4000, timeout=10) == found
            info = await stream_info(conn, "LD")
            assert info is not None and info["state"]["messages"] == 0
            # the connection and the stream work on after the refused probe
            ack = await publish_atomic_batch(conn, [("ld.a.b", b"1", None)] * 2, timeout=10)
            assert ack["seq"] == 2
        finally:
            await conn.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Hive-Note": "a\r\nNats-Expected-Last-Sequence: 9"},  # a value that adds a header
        {"Hive-Note": "a\nb"},
        {"Hive-Note": "a\rb"},
        {"Bad Key": "v"},
        {"Bad:Key": "v"},
        {"Ok": "v", "Hive-Note": "x\r\n"},
    ],
)
async def test_atomic_batch_headers_that_would_break_the_frame_are_refused_unsent(
    nc: NATS, ledger: tuple[str, str], headers: dict[str, str]
) -> None:
    name, prefix = ledger
    good = (f"{prefix}.a.k", b"1", {"Hive-Note": "fine"})
    with pytest.raises(ValueError, match="cannot be sent"):
        await publish_atomic_batch(nc, [good, (f"{prefix}.b.k", b"2", headers)], timeout=1)
    info = await stream_info(nc, name)
    assert info is not None and info["state"]["last_seq"] == 0
    await publish_atomic_batch(nc, [good], timeout=5)  # the same batch without it goes
    stored = await direct_get_last(nc, name, f"{prefix}.a.k")
    assert stored is not None and stored.headers.get("Hive-Note") == "fine"


# ---------------------------------------------------------------------- direct get


async def test_direct_get_batch_pages_and_filters(nc: NATS, ledger: tuple[str, str]) -> None:
    name, prefix = ledger
    messages = [(f"{prefix}.{'ab'[i % 2]}.k", str(i).encode(), None) for i in range(10)]
    await publish_atomic_batch(nc, messages, timeout=5)
    page = await direct_get_batch(nc, name, f"{prefix}.>", 1, 4)
    assert [m.seq for m in page.messages] == [1, 2, 3, 4] and page.num_pending == 6
    odd = await direct_get_batch(nc, name, f"{prefix}.b.k", 3, 100)
    assert [m.seq for m in odd.messages] == [4, 6, 8, 10] and odd.num_pending == 0
    assert (await direct_get_batch(nc, name, f"{prefix}.c.>", 1, 10)).messages == []
    assert (await direct_get_batch(nc, name, f"{prefix}.>", 11, 10)).messages == []
    last = await direct_get_last(nc, name, f"{prefix}.a.k")
    assert last is not None and last.seq == 9 and last.data == b"8"
    found = await multi_last(nc, name, [f"{prefix}.a.k", f"{prefix}.b.k", f"{prefix}.c.k"])
    assert {m.subject: m.seq for m in found.messages} == {f"{prefix}.a.k": 9, f"{prefix}.b.k": 10}


def test_fast_header_parser_agrees_with_nats_py() -> None:
    from nats.aio.client import Client

    original = Client.__dict__["_parse_header_lines"]
    original = getattr(original, "__func__", original)
    samples = [
        b"Hive-Topic: domain.wallet:Wallet.Credited\r\nHive-Version: 12\r\n\r\n",
        b"A:b\r\nB:\tc \r\nno colon\r\n: empty name\r\nSp ace: x\r\nTab\tName: y\r\n",
        "N\u00e4me: v\r\nK: \u00e9t\u00e9\r\n".encode() + b"Bad: \xff\xfe\r\n\r\n",
        b'Hive-Commit: {"a":1,"b":"x: y"}\r\nK: 1\r\nK: 2\r\n',
        b"",
    ]
    for raw in samples:
        assert _parse_header_lines(raw) == original(raw), raw
    assert install_fast_header_parser()
    assert install_fast_header_parser()


# -------------------------------------------------------------------------- subjects


def test_subjects_map_ids_both_ways() -> None:
    uid = uuid4()
    assert aggregate_subject("hive.ledger", uid) == f"hive.ledger.uuid.{uid.hex}"
    assert originator_id_of("hive.ledger", f"hive.ledger.uuid.{uid.hex}") == uid
    assert (
        aggregate_subject("hive.ledger", "wallet.hive1qx-9_z") == "hive.ledger.wallet.hive1qx-9_z"
    )
    assert originator_id_of("hive.ledger", "hive.ledger.tx.ab12") == "tx.ab12"
    for bad in ("nodot", "a.b.c", "_x.y", "uuid.abc", "w.a b", "w.", ".k", "w.*", "w.>"):
        with pytest.raises(InvalidAggregateIdError):
            aggregate_subject("hive.ledger", bad)
    assert is_reserved("hive.ledger", tracking_subject("hive.ledger", "Ledger"))
    assert not is_reserved("hive.ledger", "hive.ledger.wallet.x")
    with pytest.raises(InvalidAggregateIdError):
        tracking_subject("hive.ledger", "bad name")


# ----------------------------------------------------------------------- loop thread


def test_loop_thread_runs_with_deadlines() -> None:
    loop = LoopThread(name="test-loop")

    async def answer() -> int:
        return 42

    async def sleeper(done: list[bool]) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            done.append(True)
            raise

    assert loop.run(answer(), timeout=1) == 42
    cancelled: list[bool] = []
    with pytest.raises(TimeoutError):
        loop.run(sleeper(cancelled), timeout=0.05)
    assert loop.run(answer(), timeout=1) == 42 and cancelled == [True]

    async def reenter() -> int:
        return loop.run(answer(), timeout=1)

    with pytest.raises(RuntimeError, match="own loop thread"):
        loop.run(reenter(), timeout=1)
    loop.close()
    loop.close()
    with pytest.raises(LoopClosedError):
        loop.run(answer(), timeout=1)


# ------------------------------------------------------------ commit chain and fences


def write_some(factory: Factory) -> None:
    recorder = factory.process_recorder()
    ids = [f"wallet.w{i}" for i in range(5)]
    recorder.insert_events([event(i, 1, i.encode()) for i in ids])
    recorder.insert_events([event(ids[0], 2), event(ids[1], 2)], tracking=Tracking("INTAKE", 7))
    recorder.insert_tracking(Tracking("INTAKE", 9))
    recorder.insert_events([event(uuid4(), 1, b"u")])


def read_all(factory: Factory) -> list[StoredMsg]:
    ds = factory.datastore()

    async def collect() -> list[StoredMsg]:
        return [m async for m in iter_stream(ds.nc, ds.stream, f"{ds.prefix}.>")]

    return ds.run(collect())


def test_commit_chain_verifies_and_matches_the_writer(factory: Factory) -> None:
    write_some(factory)
    ds = factory.datastore()
    head = ds.run(verify_stream(ds.nc, ds.stream, ds.prefix))
    assert head.commits == 4 and head.events == 8 and head.seq == 10
    assert ds.writer.head is not None and head.hash == ds.writer.head.hash
    assert factory.application_recorder().max_notification_id() == head.last_event == 10
    commit = json.loads(read_all(factory)[-1].headers["Hive-Commit"])
    assert commit["first_seq"] == 10 and commit["count"] == 1 and commit["tracking"] is None


def test_tampered_copies_are_detected(factory: Factory) -> None:
    write_some(factory)
    messages = read_all(factory)
    prefix = factory.datastore().prefix
    good = verify_chain(messages, prefix)
    altered = list(messages)
    altered[2] = replace(altered[2], data=b"stolen")
    with pytest.raises(ChainError, match="does not match") as broken:
        verify_chain(altered, prefix)
    assert broken.value.seq == 5  # the commit of the first batch
    with pytest.raises(ChainError, match="missing"):
        verify_chain(messages[:3] + messages[4:], prefix)
    with pytest.raises(ChainError, match="after the last commit"):
        verify_chain(messages[:6], prefix)
    moved = list(messages)
    forged = {"application_name": "INTAKE", "notification_id": 99}
    moved[7] = replace(moved[7], data=json.dumps(forged).encode())  # the tracking record
    with pytest.raises(ChainError, match="tracking"):
        verify_chain(moved, prefix)
    assert verify_chain(messages[:5], prefix).hash != good.hash


async def test_a_copy_on_another_server_agrees_until_tampered(
    factory: Factory, fresh_nats_server: EmbeddedNatsServer
) -> None:
    await asyncio.to_thread(write_some, factory)
    messages = await asyncio.to_thread(read_all, factory)
    ds = factory.datastore()
    original = await asyncio.to_thread(ds.run, verify_stream(ds.nc, ds.stream, ds.prefix))
    other = await nats.connect(fresh_nats_server.url)
    try:
        for name, tamper in (("COPY", False), ("TAMPERED", True)):
            await ensure_stream(
                other, {"name": name, "subjects": [f"{ds.prefix}.>"], "allow_direct": True}
            )
            for msg in messages:
                headers = {k: v for k, v in msg.headers.items() if not k.startswith("Nats-")}
                data = b"x" if tamper and msg.seq == 3 else msg.data
                await other.jetstream().publish(msg.subject, data, headers=headers)
            if tamper:
                with pytest.raises(ChainError):
                    await verify_stream(other, name, ds.prefix)
            else:
                assert (await verify_stream(other, name, ds.prefix)).hash == original.hash
            await delete_stream(other, name)
    finally:
        await other.close()


def test_a_second_writer_is_fenced_off(factory: Factory, nats_server: EmbeddedNatsServer) -> None:
    first = factory.application_recorder()
    first.insert_events([event("wallet.a", 1)])
    intruder_factory = Factory(dict(factory.env))
    try:
        intruder = intruder_factory.application_recorder()
        assert intruder.insert_events([event("wallet.b", 1)]) == [2]
        with pytest.raises(IntegrityError):
            first.insert_events([event("wallet.c", 1)])  # the fence: nothing stored
        assert first.select_events("wallet.c") == []
        assert first.insert_events([event("wallet.c", 1)]) == [3]  # head re-read: goes on
        with pytest.raises(IntegrityError):
            intruder.insert_events([event("wallet.a", 2)])
        assert intruder.insert_events([event("wallet.a", 2)]) == [4]
        with pytest.raises(IntegrityError):
            first.insert_events([event("wallet.a", 2)])  # the intruder's v2 is there
        assert [e.originator_version for e in first.select_events("wallet.a")] == [1, 2]
    finally:
        intruder_factory.close()


def test_versions_must_follow_on(factory: Factory) -> None:
    recorder = factory.application_recorder()
    with pytest.raises(IntegrityError, match="first version"):
        recorder.insert_events([event("wallet.n", 3)])
    assert recorder.insert_events([event("wallet.n", 1), event("wallet.n", 2)]) == [1, 2]
    with pytest.raises(IntegrityError, match="does not follow"):
        recorder.insert_events([event("wallet.n", 4)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event("wallet.n", 3), event("wallet.n", 5)])
    with pytest.raises(ProgrammingError, match="batch limit"):
        recorder.insert_events([event(f"wallet.m{i}", 1) for i in range(1001)])
    with pytest.raises(InvalidAggregateIdError):
        recorder.insert_events([event("not-an-id", 1)])
    assert recorder.max_notification_id() == 2


def test_an_uncached_aggregate_presumed_new_is_looked_up(factory: Factory) -> None:
    recorder = factory.application_recorder()
    recorder.insert_events([event("wallet.z", 0)])
    factory.datastore().writer.versions.clear()
    assert recorder.insert_events([event("wallet.z", 1)]) == [2]  # refused, looked up, retried
    factory.datastore().writer.versions.clear()
    with pytest.raises(IntegrityError):
        recorder.insert_events([event("wallet.z", 1)])
    assert len(recorder.select_events("wallet.z")) == 2


def test_snapshots_go_to_their_own_stream(factory: Factory) -> None:
    snapshots = factory.aggregate_recorder("snapshots")
    uid = uuid4()
    snapshots.insert_events([event(uid, 5, b"five")])
    snapshots.insert_events([event(uid, 9, b"nine")])  # versions rise, with gaps
    with pytest.raises(IntegrityError):
        snapshots.insert_events([event(uid, 7)])
    last = snapshots.select_events(uid, desc=True, limit=1)
    assert [(e.originator_version, e.state) for e in last] == [(9, b"nine")]
    assert [e.originator_version for e in snapshots.select_events(uid, lte=8)] == [5]
    assert factory.application_recorder().max_notification_id() is None  # LEDGER untouched
    assert factory.datastore("snapshots").stream == f"{factory.stream}_SNAPSHOTS"


def test_an_application_runs_on_jetstream(factory: Factory) -> None:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate
    from eventsourcing.domain import event as command

    class Dog(Aggregate):
        def __init__(self, name: str) -> None:
            self.name = name
            self.tricks: list[str] = []

        @command("TrickAdded")
        def add_trick(self, trick: str) -> None:
            self.tricks.append(trick)

    class Dogs(Application[UUID]):
        is_snapshotting_enabled = True

    app = Dogs(env={"PERSISTENCE_MODULE": "streams.persistence", **dict(factory.env)})
    try:
        dog = Dog("Fido")
        for trick in ("roll", "play dead", "fetch"):
            dog.add_trick(trick)
        app.save(dog)
        app.take_snapshot(dog.id)
        dog = app.repository.get(dog.id)
        dog.add_trick("sit")
        app.save(dog)
        assert app.repository.get(dog.id).tricks == ["roll", "play dead", "fetch", "sit"]
        assert app.repository.get(dog.id, version=2).tricks == ["roll"]
        notifications = app.notification_log.select(start=1, limit=10)
        assert [n.originator_version for n in notifications] == [1, 2, 3, 4, 5]
    finally:
        app.close()


async def test_the_ops_configuration_serves_a_node_as_the_embedded_server_does(
    tmp_path: Path,
) -> None:
    """ops/nats-server.conf, for nodes started with --nats: JetStream with sync always and
    the raised batch limit (the port given on the command line, the store moved)."""
    import subprocess

    from streams.server import find_binary, free_port

    config = Path(__file__).resolve().parent.parent / "ops" / "nats-server.conf"
    text = config.read_text()
    assert "sync_interval: always" in text and f"max_msgs: {BATCH_LIMIT}" in text
    assert '"./nats-data"' in text
    copy = tmp_path / "nats-server.conf"
    copy.write_text(text.replace('"./nats-data"', f'"{tmp_path / "js"}"'))
    port = free_port()
    server = subprocess.Popen(
        [find_binary(), "-c", str(copy), "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                conn = await nats.connect(f"nats://127.0.0.1:{port}", max_reconnect_attempts=0)
                break
            except Exception:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the server with ops/nats-server.conf did not start")
        try:
            await ensure_ledger_stream(conn, "LO", "lo")
            assert await probe_batch_limit(conn, "lo._probe", 4000, timeout=10) == BATCH_LIMIT
        finally:
            await conn.close()
    finally:
        server.terminate()
        server.wait(10)
