"""Stop a node, start it again: the same state, rebuilt from LEDGER. Delete the DuckDB
file: the projections are rebuilt from the stream and equal what they were. Stop in the
middle of a stream of transactions: after a restart each is decided exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats

from gateways.bench.workload import make_workload
from gateways.bootstrap import Node
from gateways.sdk import transactions
from projections import run_sql
from streams.keys import Keypair
from tests.node_harness import client, start_node, treasury_of

TABLES = {
    "wallets": "SELECT address, balance, nonce, opened_seq, updated_seq FROM wallets "
    "ORDER BY address",
    "transactions": "SELECT txid, seq, status, kind, signer, nonce, code, reason, intake_seq, "
    "sequenced_at FROM transactions ORDER BY txid",
    "transfers": "SELECT * FROM transfers ORDER BY txid",
    "chain": "SELECT chain_id, treasury, genesis_supply, minted, supply FROM chain",
    "events": "SELECT seq, subject, type, txid, data FROM events ORDER BY seq",
}


def dump(node: Node) -> dict[str, Any]:
    assert node.db is not None
    return {name: run_sql(node.db, sql, max_rows=100_000).rows for name, sql in TABLES.items()}


async def submit_some(node: Node, count: int) -> list[str]:
    api = client(node)
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    nonce = (await asyncio.to_thread(api.wallet, treasury.address))["next_nonce"]
    txids = []
    for i in range(count):
        to = Keypair.from_seed32(bytes([i + 1]) * 32)
        _, envelope = transactions.transfer(
            treasury, chain_id="hive-dev", to=to.address, amount=1_000 + i, nonce=nonce + i
        )
        result = await asyncio.to_thread(api.submit, envelope)
        assert result["status"] == "accepted"
        txids.append(result["txid"])
    return txids


async def test_restart_and_rebuild_give_the_same_state(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    node = await start_node(data, home)
    await submit_some(node, 5)
    before = await asyncio.to_thread(dump, node)
    await node.stop()

    node = await start_node(data, home)
    assert await asyncio.to_thread(dump, node) == before
    await submit_some(node, 1)  # and the restarted sequencer carries on from the right nonce
    after_more = await asyncio.to_thread(dump, node)
    await node.stop()

    for leftover in data.glob("projections.duckdb*"):
        leftover.unlink()
    node = await start_node(data, home)
    assert node.runner is not None
    assert await node.runner.wait_for(after_more["events"][-1][0], timeout=30)
    assert await asyncio.to_thread(dump, node) == after_more
    await node.stop()


async def publish(url: str, envelopes: list[tuple[str, bytes]], stop_when: Any = None) -> int:
    """Publish to INTAKE; returns how many were published before ``stop_when()`` said stop."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sent = 0
    for txid, envelope in envelopes:
        await js.publish_async("hive.intake.transfer", envelope, headers={"Nats-Msg-Id": txid})
        sent += 1
        if stop_when is not None and sent % 20 == 0 and stop_when():
            break
    await js.publish_async_completed()
    await nc.close()
    return sent


async def test_a_stop_mid_stream_neither_loses_nor_repeats(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    node = await start_node(data, home)
    workload = make_workload(600, 20, "hive-dev", treasury_of(home), seed=7)
    pairs = list(zip(workload.txids, workload.envelopes, strict=True))
    sequencer = node.sequencer
    assert sequencer is not None
    sent = await publish(node.nats_url, pairs, stop_when=lambda: sequencer.stats.accepted > 0)
    for _ in range(3000):  # the sequencer's process may still be starting: wait for work
        if sequencer.stats.accepted > 0:
            break
        await asyncio.sleep(0.01)
    await node.stop()  # with the sequencer in the middle of the stream
    decided_before_stop = sequencer.stats.accepted
    assert 0 < decided_before_stop <= sent

    node = await start_node(data, home)
    assert node.db is not None
    await publish(node.nats_url, pairs)  # the rest, and every one already sent once more
    for _ in range(300):
        if run_sql(node.db, "SELECT count(*) FROM transactions").rows[0][0] >= workload.size:
            break
        await asyncio.sleep(0.1)
    rows = run_sql(
        node.db, "SELECT status, count(*), count(DISTINCT txid) FROM transactions GROUP BY status"
    ).rows
    assert rows == [("accepted", workload.size, workload.size)]
    supply, held = run_sql(
        node.db, "SELECT (SELECT supply FROM chain), (SELECT sum(balance) FROM wallets)"
    ).rows[0]
    assert supply == held
    await node.stop()


async def test_a_node_whose_nats_server_died_still_stops(tmp_path: Path) -> None:
    """Every part stops, in order, even when the connection under it is gone: a failing
    step is logged and the next one still runs (no part left running, nothing raised)."""
    node = await start_node(tmp_path / "data", tmp_path / "home")
    assert node.server is not None and node.server.process is not None
    node.server.process.kill()
    node.server.process.wait(10)
    await asyncio.wait_for(node.stop(), timeout=120)
    assert node.sequencer is not None
    assert not node.sequencer._process.is_alive()
