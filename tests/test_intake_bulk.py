"""Bulk submission to INTAKE (streams/intake_bulk.py) through a real node: envelopes in
atomic batches, a duplicate among them decided once, an oversize one refused before
anything of its batch is sent."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gateways.bootstrap import Node
from gateways.sdk import transactions
from streams.intake_bulk import publish_bulk
from streams.keys import Keypair
from tests.node_harness import call, client, counts, start_node, treasury_of

RECIPIENTS = [Keypair.from_seed32(bytes([40 + i]) * 32) for i in range(5)]


async def wait_decided(node: Node, expected: int, timeout: float = 60) -> int:
    api, deadline, decided = client(node), time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        rows = (await call(api.sql, "SELECT count(*) FROM transactions"))["rows"]
        decided = int(rows[0][0])
        if decided >= expected:
            return decided
        await asyncio.sleep(0.1)
    return decided


@pytest.mark.asyncio
async def test_bulk_envelopes_are_decided_once_each(tmp_path: Path) -> None:
    node = await start_node(tmp_path / "data", tmp_path / "home")
    try:
        treasury = treasury_of(tmp_path / "home")
        envelopes = [
            transactions.transfer(
                treasury, chain_id="hive-dev", to=RECIPIENTS[i % 5].address, amount=10 + i,
                nonce=i + 1,
            )[1]
            for i in range(60)
        ]  # fmt: skip
        before = await counts(node)
        pairs = [("transfer", e) for e in [*envelopes, envelopes[3]]]  # one replayed
        assert node.nc is not None
        seen: list[int] = []
        acks = await publish_bulk(node.nc, pairs, batch=25, in_flight=2, progress=seen.append)
        assert [a["count"] for a in acks] == [25, 25, 11] and sum(seen) == 61
        assert (await counts(node))[0] == before[0] + 61
        # the replay is taken by INTAKE but decided once: 60 records (+ genesis has none)
        assert await wait_decided(node, 60) == 60
        await asyncio.sleep(0.5)
        api = client(node)
        rows = await call(api.sql, "SELECT count(*), count(DISTINCT txid) FROM transactions")
        assert rows["rows"][0] == [60, 60]
        wallets = [await call(api.wallet, r.address) for r in RECIPIENTS]
        total = sum(w["balance"] for w in wallets)
        assert total == sum(10 + i for i in range(60))

        intake_before = (await counts(node))[0]
        with pytest.raises(ValueError, match="over the limit"):
            await publish_bulk(node.nc, [("transfer", envelopes[0]), ("transfer", b"x" * 70_000)])
        assert (await counts(node))[0] == intake_before, "nothing of a refused batch is sent"
    finally:
        await node.stop()
