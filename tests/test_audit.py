"""The auditor's replay over a real node's LEDGER: chain, signatures, conservation, and
agreement with the projections."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
from typer.testing import CliRunner

from gateways.audit import audit_stream
from gateways.cli.main import app
from gateways.sdk import transactions
from projections import run_sql
from streams.keys import Keypair
from tests.node_harness import client, start_node, treasury_of


async def test_audit_replays_the_ledger_and_agrees_with_the_projections(tmp_path: Path) -> None:
    node = await start_node(tmp_path / "data", tmp_path / "home")
    try:
        api = client(node)
        treasury = treasury_of(tmp_path / "home")
        for i in range(3):
            _, envelope = transactions.transfer(
                treasury, chain_id="hive-dev", to=Keypair.from_seed32(bytes([i + 7]) * 32).address,
                amount=5_000 + i, nonce=i + 1,
            )  # fmt: skip
            await asyncio.to_thread(api.submit, envelope)
        _, bad = transactions.transfer(
            treasury, chain_id="hive-dev", to=treasury_of(tmp_path / "home").address, amount=1,
            nonce=4,
        )  # fmt: skip
        await asyncio.to_thread(api.submit, bad)  # a self transfer: recorded as rejected
        nc = await nats.connect(node.nats_url)
        report = await audit_stream(nc)
        await nc.close()
        assert node.db is not None
        rows = run_sql(node.db, "SELECT address, balance FROM wallets").rows
        assert report.balances == {a: b for a, b in rows}
        assert (report.accepted, report.rejected, report.signatures_verified) == (3, 1, 3)
        assert report.wallets_total + report.locked == report.supply
        assert report.conservation_checks == report.commits  # checked at every commit
        assert json.loads((tmp_path / "data" / "node.json").read_text())["nats_url"]

        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["audit", "--data", str(tmp_path / "data"), "--json"]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert summary["ok"] and summary["projection_matches"] and summary["accepted"] == 3
    finally:
        await node.stop()
