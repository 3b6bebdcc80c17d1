"""The marketplace CLI (task, miner, validator, fraud) against a real node.

Wallets are keystore files in the node's keystore home, funded from the treasury through
`transfer`; every market transaction is then signed locally by the CLI and sent by
JSON-RPC. One task (T1, deadline 8 s, validation window 2 s) runs the whole lifecycle to
settlement; while its deadline runs, a second task carries a fraud report that is
confirmed and slashes, a third is cancelled, and `miner auto` mines a fourth. Every
refusal is checked for its stable code on one stderr line, a non-zero exit, and for
changing nothing. A write the sequencer refuses is still recorded as a rejected
transaction (one INTAKE message, its LEDGER record), so for those "nothing" means no
balance moved, no nonce used and the task unchanged; a refused read changes no count.

The tests run in file order and share the node and its state (module scope).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from gateways.bootstrap import Node
from streams.keys import Keypair
from streams.keystore import Keystore
from tests.node_harness import FAST_KDF, module_node
from tests.test_cli import Cli, assert_refused, counts

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNIT = 10**9
TASK_SUMMARY = {
    "task_id", "title", "task_type", "difficulty", "reward_amount", "deadline",
    "participants_count", "max_participants", "publisher",
}  # fmt: skip
MINER_STATS = {
    "address", "reputation_score", "tasks_completed", "tasks_failed", "total_earnings",
    "success_rate", "specializations",
}  # fmt: skip
FUNDS = {"pub": "60", "m1": "5", "m2": "5", "v1": "10", "v2": "10", "bot": "5"}
T1_REWARD = 10 * UNIT


node = module_node("cli-market-node")


@pytest.fixture(scope="module")
def cli(node: Node) -> Cli:
    from typer.testing import CliRunner

    assert node.settings.keystore_home is not None
    return Cli(node, node.settings.keystore_home, CliRunner())


@dataclass
class Market:
    """The wallets (name -> address) and what the tests learn as they go."""

    addr: dict[str, str]
    tasks: dict[str, str] = field(default_factory=dict)  # label -> task id
    subs: dict[str, str] = field(default_factory=dict)  # label -> submission id


async def ok(cli: Cli, *args: str) -> Any:
    """Run a command with --json that must succeed; its parsed output."""
    result = await cli(*args, "--json")
    assert result.exit_code == 0, f"{args}: {result.stderr}"
    return json.loads(result.stdout)


async def wallet(cli: Cli, name: str) -> tuple[int, int]:
    data = await ok(cli, "balance", name)
    return data["balance"], data["nonce"]


async def wallets(cli: Cli, m: Market, *leave_out: str) -> dict[str, tuple[int, int]]:
    """(balance, nonce) of every wallet but ``leave_out``."""
    return {name: await wallet(cli, name) for name in m.addr if name not in leave_out}


# T1's settlement pays m1 at a moment these tests do not choose: once T1 is submitted,
# the snapshots that must not move leave m1 out, and the refusals sign with bot instead.
PAID_BY_T1 = "m1"


async def publish(cli: Cli, signer: str, title: str, *extra: str) -> str:
    result = await ok(cli, "task", "publish", "--from", signer, "--title", title, *extra)
    assert result["status"] == "accepted" and len(result["task_id"]) == 64
    return str(result["task_id"])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def market(cli: Cli) -> Market:
    """Keystore wallets (fast KDF, so signing is quick), funded with `transfer`, miners
    m1, m2, v2 and bot registered, validators v1 (stake 6) and v2 (stake 2)."""
    store = Keystore(cli.home, **FAST_KDF)
    addr = {}
    for name, amount in FUNDS.items():
        addr[name] = store.create(name, Keypair.generate()[1], "").address
        sent = await cli("transfer", "--from", "treasury", "--to", name, "--amount", amount)
        assert sent.exit_code == 0 and sent.stdout.strip().endswith("  accepted"), sent.output
    for name in ("m1", "m2", "v2", "bot"):
        registered = await ok(
            cli, "miner", "register", "--from", name, "--miner-id", f"{name}-rig",
            "--skill", "summaries", "--specialization", "general_task",
        )  # fmt: skip
        assert registered["status"] == "accepted" and registered["registration_id"]
    for name, stake in (("v1", "6"), ("v2", "2")):
        registered = await ok(cli, "validator", "register", "--from", name, "--stake", stake)
        assert registered["status"] == "accepted"
    return Market(addr)


# -- T1: publish, list, show, join, submit, vote (before its 8 s deadline) ---------------


async def test_publish_list_and_show(cli: Cli, market: Market) -> None:
    before = await wallet(cli, "pub")
    t1 = await publish(
        cli, "pub", "Summarise the README", "--description", "In three lines.",
        "--reward", "10", "--stake", "1", "--deadline-in", "8", "--validation-window", "2",
        "--max-participants", "3", "--quality-threshold", "50",
    )  # fmt: skip
    market.tasks["t1"] = t1
    assert await wallet(cli, "pub") == (before[0] - T1_REWARD, before[1] + 1), "escrowed"

    listed = {t["task_id"]: t for t in await ok(cli, "task", "list")}
    summary = listed[t1]
    assert set(summary) == TASK_SUMMARY | {"status"}, "seed 000's fields and the doc's addition"
    assert summary["title"] == "Summarise the README"
    assert (summary["task_type"], summary["difficulty"]) == ("general_task", "beginner")
    assert summary["reward_amount"] == T1_REWARD and summary["publisher"] == market.addr["pub"]
    assert (summary["participants_count"], summary["max_participants"]) == (0, 3)
    assert abs(summary["deadline"] - (time.time() + 8)) < 5, "unix seconds"
    assert summary["status"] == "open"
    assert t1 in {t["task_id"] for t in await ok(cli, "task", "list", "--min-reward", "10")}
    assert t1 not in {t["task_id"] for t in await ok(cli, "task", "list", "--min-reward", "11")}

    shown = await ok(cli, "task", "show", t1)
    assert shown["task_id"] == t1 and shown["description"] == "In three lines."
    assert (shown["status"], shown["stake_required"], shown["quality_threshold"]) == (
        "open", UNIT, 50,
    )  # fmt: skip
    assert (shown["validation_window"], shown["winner"], shown["payout"]) == (2000, None, None)
    assert shown["participants"] == [] and shown["submissions"] == []
    human = await cli("task", "show", t1)
    assert human.exit_code == 0 and "Summarise the README" in human.stdout


async def test_join_and_submit_with_their_refusals(cli: Cli, node: Node, market: Market) -> None:
    t1 = market.tasks["t1"]
    joined = await ok(cli, "miner", "join", t1, "--from", "m1", "--stake", "1")
    assert joined["status"] == "accepted" and joined["participation_id"]
    m1 = await wallet(cli, "m1")
    assert m1[0] == 4 * UNIT, "the stake is locked"

    state = await wallets(cli, market)
    assert_refused(await cli("miner", "join", t1, "--from", "m1", "--stake", "1"), "already_joined")
    assert_refused(
        await cli("miner", "join", t1, "--from", "m2", "--stake", "0.5"), "stake_too_low"
    )
    assert_refused(
        await cli("miner", "submit", t1, "--from", "m2", "--content", "me too"),
        "not_participant",
    )
    assert await wallets(cli, market) == state, "no balance moved, no nonce used"
    shown = await ok(cli, "task", "show", t1)
    assert shown["participants"] == [market.addr["m1"]] and shown["submissions"] == []

    content = "hiveledger: a ledger of tasks, solutions and votes."
    submitted = await ok(cli, "miner", "submit", t1, "--from", "m1", "--content", content)
    assert submitted["status"] == "accepted"
    market.subs["t1"] = submitted["submission_id"]
    (sub,) = (await ok(cli, "task", "show", t1))["submissions"]
    assert (sub["submission_id"], sub["miner"]) == (market.subs["t1"], market.addr["m1"])
    assert sub["content"] == content
    assert sub["content_hash"] == hashlib.sha256(content.encode()).hexdigest()
    assert (sub["votes"], sub["reached"], sub["score"]) == (0, None, None)


async def test_votes_with_their_refusals(cli: Cli, market: Market) -> None:
    sub = market.subs["t1"]
    state = await wallets(cli, market, PAID_BY_T1)
    assert_refused(
        await cli("validator", "vote", sub, "--from", "m2", "--score", "90"), "not_validator"
    )
    assert await wallets(cli, market, PAID_BY_T1) == state
    voted = await ok(cli, "validator", "vote", sub, "--from", "v1", "--score", "80")
    assert voted["status"] == "accepted" and voted["vote_id"]
    state = await wallets(cli, market, PAID_BY_T1)
    assert_refused(
        await cli("validator", "vote", sub, "--from", "v1", "--score", "10"), "already_voted"
    )
    assert await wallets(cli, market, PAID_BY_T1) == state
    assert (await ok(cli, "validator", "vote", sub, "--from", "v2", "--score", "84"))[
        "status"
    ] == "accepted"
    (shown,) = (await ok(cli, "task", "show", market.tasks["t1"]))["submissions"]
    assert shown["votes"] == 2, "the refused vote did not count"


# -- T2: a full task, a self vote, fraud reported and confirmed ---------------------------


async def test_task_full_self_vote_and_fraud(cli: Cli, market: Market) -> None:
    t2 = await publish(
        cli, "pub", "Audit the sequencer", "--reward", "4", "--stake", "1",
        "--deadline-in", "60", "--max-participants", "2",
    )  # fmt: skip
    market.tasks["t2"] = t2
    for name in ("m2", "v2"):
        await ok(cli, "miner", "join", t2, "--from", name, "--stake", "1")
    state = await wallets(cli, market, PAID_BY_T1)
    assert_refused(await cli("miner", "join", t2, "--from", "bot", "--stake", "1"), "task_full")
    assert await wallets(cli, market, PAID_BY_T1) == state
    own = await ok(cli, "miner", "submit", t2, "--from", "v2", "--content", "mine")
    assert_refused(
        await cli("validator", "vote", own["submission_id"], "--from", "v2", "--score", "100"),
        "self_vote",
    )
    submitted_only = state | {"v2": (state["v2"][0], state["v2"][1] + 1)}
    assert await wallets(cli, market, PAID_BY_T1) == submitted_only
    assert (await ok(cli, "task", "show", t2))["participants_count"] == 2

    treasury = await wallet(cli, "treasury")
    reported = await ok(
        cli, "fraud", "report", "--from", "pub", "--accused", "m2", "--task", t2,
        "--kind", "plagiarism", "--evidence", "copied from a blog",
    )  # fmt: skip
    fraud_id = reported["fraud_id"]
    (alert,) = await ok(cli, "fraud", "list", "--status", "open")
    assert (alert["fraud_id"], alert["status"], alert["accused"]) == (
        fraud_id, "open", market.addr["m2"],
    )  # fmt: skip
    assert alert["evidence_hash"] == hashlib.sha256(b"copied from a blog").hexdigest()
    # v1 holds 6 of the 8 tokens staked by validators: its confirmation alone enforces.
    confirmed = await ok(cli, "fraud", "confirm", fraud_id, "--from", "v1")
    assert (confirmed["status"], confirmed["fraud_id"]) == ("accepted", fraud_id)
    (alert,) = await ok(cli, "fraud", "list")
    assert (alert["status"], alert["confirmations"], alert["slashed"]) == ("confirmed", 1, UNIT)
    assert alert["withheld"] is True and alert["confirmed_stake"] == 6 * UNIT
    assert await ok(cli, "fraud", "list", "--status", "open") == []
    assert (await wallet(cli, "treasury"))[0] == treasury[0] + UNIT, "the stake went to it"
    assert (await ok(cli, "miner", "stats", "m2"))["reputation_score"] == 80
    # The table has all 14 columns, folded to shreds at the runner's 80 columns: just runs.
    human = await cli("fraud", "list")
    assert human.exit_code == 0 and human.stdout.strip() and not human.stderr


# -- T3: cancel; publishing beyond the balance; unknown tasks -----------------------------


async def test_cancel_returns_the_escrow_and_only_the_publisher_may(
    cli: Cli, market: Market
) -> None:
    before = await wallet(cli, "pub")
    t3 = await publish(cli, "pub", "Never mind", "--reward", "3", "--deadline-in", "60")
    assert (await wallet(cli, "pub"))[0] == before[0] - 3 * UNIT
    state = await wallets(cli, market, PAID_BY_T1)
    assert_refused(await cli("task", "cancel", t3, "--from", "bot"), "not_publisher")
    assert await wallets(cli, market, PAID_BY_T1) == state
    assert (await ok(cli, "task", "show", t3))["status"] == "open"
    cancelled = await ok(cli, "task", "cancel", t3, "--from", "pub")
    assert (cancelled["status"], cancelled["task_id"]) == ("accepted", t3)
    assert await wallet(cli, "pub") == (before[0], before[1] + 2), "the escrow came back"
    shown = await ok(cli, "task", "show", t3)
    assert (shown["status"], shown["refund"], shown["payout"]) == ("cancelled", 3 * UNIT, 0)
    assert t3 not in {t["task_id"] for t in await ok(cli, "task", "list")}


async def test_publishing_beyond_the_balance_and_unknown_tasks_are_refused(
    cli: Cli, node: Node, market: Market
) -> None:
    state = await wallets(cli, market, PAID_BY_T1)
    titles = {t["title"] for t in await ok(cli, "task", "list")}
    result = await cli(
        "task", "publish", "--from", "pub", "--title", "Too rich", "--reward", "1000"
    )
    assert_refused(result, "insufficient_funds")
    assert await wallets(cli, market, PAID_BY_T1) == state
    assert "Too rich" not in titles | {t["title"] for t in await ok(cli, "task", "list")}

    unknown = "f" * 64
    before = await counts(node)
    assert_refused(await cli("task", "show", unknown), "task_not_found")
    assert await counts(node) == before, "a read writes nothing"
    assert_refused(
        await cli("miner", "join", unknown, "--from", "bot", "--stake", "1"), "task_not_found"
    )
    assert_refused(await cli("task", "cancel", unknown, "--from", "pub"), "task_not_found")
    assert await wallets(cli, market, PAID_BY_T1) == state


# -- T4: miner auto -----------------------------------------------------------------------


async def test_miner_auto_joins_and_submits(cli: Cli, market: Market) -> None:
    # Its own task type, so that the auto-miner leaves the other open tasks alone.
    t4 = await publish(
        cli, "pub", "Explain the hash chain", "--type", "data_analysis", "--reward", "2",
        "--stake", "0.5", "--deadline-in", "30", "--description", "What links the records.",
    )  # fmt: skip
    result = await cli(
        "miner", "auto", "--from", "bot", "--type", "data_analysis",
        "--seconds", "6", "--interval", "0.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "running=False" in result.stdout and t4 in result.stdout
    shown = await ok(cli, "task", "show", t4)
    assert shown["participants"] == [market.addr["bot"]]
    (sub,) = shown["submissions"]
    assert sub["miner"] == market.addr["bot"] and sub["content"]
    assert (await wallet(cli, "bot"))[0] == 5 * UNIT - UNIT // 2, "it staked what was required"
    t2 = await ok(cli, "task", "show", market.tasks["t2"])
    assert market.addr["bot"] not in t2["participants"], "other types left alone"


# -- T1 settles -------------------------------------------------------------------------


async def test_t1_settles_to_its_miner(cli: Cli, market: Market) -> None:
    t1 = market.tasks["t1"]
    for _ in range(80):
        shown = await ok(cli, "task", "show", t1)
        if shown["status"] == "settled":
            break
        await asyncio.sleep(0.25)
    assert shown["status"] == "settled", shown["status"]
    assert (shown["winner"], shown["winning_submission"]) == (market.addr["m1"], market.subs["t1"])
    assert (shown["payout"], shown["refund"]) == (T1_REWARD, 0)
    (sub,) = shown["submissions"]
    assert (sub["reached"], sub["won"], sub["votes"]) == (True, True, 2)
    assert 80 <= sub["score"] <= 84
    assert t1 not in {t["task_id"] for t in await ok(cli, "task", "list")}
    assert (await wallet(cli, "m1"))[0] == 5 * UNIT + T1_REWARD, "reward paid, stake back"

    stats = await ok(cli, "miner", "stats", "m1")
    assert set(stats) == MINER_STATS | {"miner_id", "skills", "registered_at"}
    assert stats["address"] == market.addr["m1"] and stats["miner_id"] == "m1-rig"
    assert (stats["tasks_completed"], stats["tasks_failed"]) == (1, 0)
    assert stats["total_earnings"] == T1_REWARD and stats["success_rate"] == 1.0
    assert stats["reputation_score"] == 110 and stats["specializations"] == ["general_task"]
    by_address = await ok(cli, "miner", "stats", market.addr["m1"])
    assert by_address == stats

    state = await wallets(cli, market)
    assert_refused(
        await cli("validator", "vote", market.subs["t1"], "--from", "v2", "--score", "1"),
        "task_settled",
    )
    assert await wallets(cli, market) == state
