"""hiveledger demo against a real node (embedded nats-server, sequencer, DuckDB, HTTP).

The CLI is synchronous and talks HTTP, so it runs in a worker thread (CliRunner) while
the node's event loop keeps going. Afterwards the projections are checked by SQL, on
their own terms, not through the demo's summary: every task final, a winner, the fraud
alert confirmed with a slash, the friend never winning on the colluders' votes, and
conservation of money.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.consensus import SCALE, Vote, decide
from gateways.cli.main import app
from gateways.sdk.node_http import NodeHTTP
from tests.node_harness import start_node

pytestmark = pytest.mark.timeout(120)

# Seed 7 picks two intermediate tasks (everyone may join both), so who joins what does
# not depend on timing; 4 validators: 2 honest, the colluding pair.
ARGS = ["demo", "--miners", "4", "--validators", "4", "--tasks", "2", "--deadline-s", "10",
        "--window-s", "3", "--seed", "7", "--json"]  # fmt: skip


def rows(node: NodeHTTP, query: str) -> list[dict[str, Any]]:
    result = node.sql(query)
    return [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]


def quoted(values: list[str]) -> str:
    assert all(v.isalnum() for v in values)
    return ", ".join(f"'{v}'" for v in values)


async def test_demo_fills_the_projections(tmp_path: Path) -> None:
    node = await start_node(tmp_path / "data", tmp_path / "home")
    try:
        env = {"HIVELEDGER_HOME": str(tmp_path / "home"), "HIVELEDGER_PASSWORD": "",
               "HIVELEDGER_NODE": node.http_url}  # fmt: skip
        started = time.monotonic()
        result = await asyncio.to_thread(CliRunner().invoke, app, ARGS, env=env)
        elapsed = time.monotonic() - started
        assert result.exit_code == 0, f"{result.exception!r}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr
        summary = json.loads(result.stdout)
        assert elapsed < 45, elapsed
        await asyncio.to_thread(check_projections, NodeHTTP(node.http_url), summary)
    finally:
        await node.stop()


def check_projections(node: NodeHTTP, summary: dict[str, Any]) -> None:
    ids = quoted([t["task_id"] for t in summary["tasks"]])
    friend = summary["collusion"]["friend"]
    colluders = set(summary["collusion"]["colluders"])
    assert len(summary["tasks"]) == 2 and summary["all_final"]

    tasks = rows(node, f"SELECT task_id, status, winner, winning_submission, quality_threshold "
                       f"FROM tasks WHERE task_id IN ({ids})")  # fmt: skip
    assert len(tasks) == 2
    assert all(t["status"] in ("settled", "expired") for t in tasks), tasks
    assert any(t["status"] == "settled" and t["winner"] for t in tasks), tasks

    [alert] = rows(node, "SELECT status, kind, slashed, withheld, task_id FROM fraud_alerts "
                         f"WHERE accused = '{friend}'")  # fmt: skip
    timing = {k: v for k, v in summary["fraud"].items() if k.endswith("_s")}
    assert (alert["status"], alert["kind"], alert["withheld"]) == (
        "confirmed",
        "collusion",
        True,
    ), timing
    assert alert["slashed"] > 0
    where = f"task_id = '{alert['task_id']}' AND miner = '{friend}'"
    [slashed] = rows(node, f"SELECT status, slashed FROM task_participants WHERE {where}")
    assert slashed == {"status": "slashed", "slashed": alert["slashed"]}

    check_clipping(node, ids, tasks, friend, colluders)

    [money] = rows(node, "SELECT (SELECT sum(balance) FROM wallets) AS wallets, m.locked, "
                         "c.supply FROM market m, chain c")  # fmt: skip
    assert money["wallets"] + money["locked"] == money["supply"]
    assert summary["conservation"]["holds"] is True
    assert summary["fraud"]["status"] == "confirmed"


def check_clipping(node: NodeHTTP, ids: str, tasks: list[dict[str, Any]], friend: str,
                   colluders: set[str]) -> None:  # fmt: skip
    """The colluders voted 100 for their friend; the ledger clipped those votes to the
    median; and wherever the friend won, the honest votes alone make it the best."""
    subs = rows(node, "SELECT submission_id, task_id, miner, reached, score_milli, median "
                      f"FROM submissions WHERE task_id IN ({ids})")  # fmt: skip
    votes = rows(node, f"SELECT submission_id, validator, score, weight FROM votes "
                       f"WHERE task_id IN ({ids})")  # fmt: skip
    theirs = [s for s in subs if s["miner"] == friend]
    assert theirs, "the friend submitted"
    for sub in theirs:
        cast = [v for v in votes if v["submission_id"] == sub["submission_id"]]
        assert {v["score"] for v in cast if v["validator"] in colluders} == {100}
        assert sub["median"] < 100 and sub["score_milli"] <= sub["median"] * SCALE
    for task in tasks:
        if task["winner"] != friend:
            continue
        honest = [Vote(v["validator"], v["score"], v["weight"]) for v in votes
                  if v["submission_id"] == task["winning_submission"]
                  and v["validator"] not in colluders]  # fmt: skip
        alone = decide(honest).score_milli
        rivals = [s["score_milli"] for s in subs if s["task_id"] == task["task_id"]
                  and s["miner"] != friend and s["reached"]]  # fmt: skip
        assert alone >= task["quality_threshold"] * SCALE and alone > max(rivals, default=0)
