"""JSON-RPC 2.0 at /rpc against a real node: seed 000's methods through a whole task's life,
writes signed locally, results under seed 000's names. Error paths: tests/test_rpc_errors.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.errors import ErrorCode
from gateways.bootstrap import Node
from streams import wire
from streams import wire_market as wm
from tests.market_node import (
    TOKEN,
    Actor,
    caught_up,
    digest,
    fund,
    ok,
    rpc,
    rpc_raw,
    task_fields,
    until,
)
from tests.node_harness import counts, module_node

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLISHER, MINER, MINER2 = Actor.named("publisher"), Actor.named("miner"), Actor.named("miner2")
V1, V2 = Actor.named("validator1"), Actor.named("validator2")


async def fund_actors(node: Node, home: Path) -> None:
    await fund(node, 100 * TOKEN, PUBLISHER, MINER, MINER2, V1, V2)


node = module_node("rpc", prepare=fund_actors)


async def details(node: Node, task_id: str) -> dict:
    return dict(await ok(node, "ai_getTaskDetails", {"task_id": task_id}))


async def balance(node: Node, actor: Actor) -> int:
    return int((await ok(node, "ai_getBalance", {"address": actor.address}))["balance"])


async def test_a_task_from_publication_to_settlement(node: Node) -> None:
    registered = await MINER.ok(
        node, "ai_registerMiner", wm.MinerRegister, miner_id="m-1", skills=["python"],
        specializations=["code_analysis"],
    )  # fmt: skip
    assert registered["registration_id"] == registered["txid"]
    for validator in (V1, V2):
        result = await validator.ok(
            node, "ai_registerValidator", wm.ValidatorRegister, stake_amount=10 * TOKEN
        )
        assert set(result) >= {"txid", "status", "registration_id"}
    # Joins and submissions close at the deadline, votes only when the task is final: a
    # long validation window keeps this test right under load (the last vote settles it).
    fields = task_fields(deadline_in_ms=6_000, validation_window=30_000)
    published = await PUBLISHER.ok(node, "ai_publishTask", wm.TaskPublish, **fields)
    task_id = published["task_id"]
    assert task_id == published["txid"] and len(task_id) == 64
    before = await balance(node, MINER)
    joined = await MINER.ok(
        node, "ai_participateTask", wm.TaskJoin, task_id=task_id, stake_amount=TOKEN
    )
    assert joined["participation_id"] == joined["txid"]
    assert await balance(node, MINER) == before - TOKEN, "the stake is locked"
    submitted = await MINER.ok(
        node, "ai_submitSolution", wm.SolutionSubmit, task_id=task_id,
        content_hash=digest("42"), content="42",
    )  # fmt: skip
    submission_id = submitted["submission_id"]

    await check_open(node, task_id, fields)

    for validator, score in ((V1, 80), (V2, 84)):
        voted = await validator.ok(
            node, "ai_submitValidation", wm.Vote, submission_id=submission_id, score=score
        )
        assert voted["vote_id"] == voted["txid"]
    task = await details(node, task_id)
    [sub] = task["submissions"]
    assert (sub["submission_id"], sub["miner"], sub["content_hash"], sub["votes"]) == (
        submission_id, MINER.address, digest("42"), 2,
    )  # fmt: skip
    if task["status"] != "settled":
        assert sub["reached"] is None and sub["score"] is None, "scored when the task settles"

    await until(lambda: details(node, task_id), lambda t: t["status"] == "settled")
    await caught_up(node)
    await check_settled(node, await details(node, task_id), submission_id, before)


async def check_open(node: Node, task_id: str, fields: dict) -> None:
    """The open task, joined by MINER, in the lists, details, my tasks and the network."""
    active = (await ok(node, "ai_listActiveTasks", {}))["tasks"]
    found = [t for t in active if t["task_id"] == task_id]
    assert len(found) == 1, (active, await details(node, task_id))
    summary = found[0]
    assert summary == {
        "task_id": task_id, "title": fields["title"], "task_type": "code_analysis",
        "difficulty": "intermediate", "reward_amount": 5 * TOKEN,
        "deadline": fields["deadline"] // 1000, "participants_count": 1, "max_participants": 3,
        "publisher": PUBLISHER.address, "status": "open",
    }  # fmt: skip
    await check_filters(node, task_id, fields["deadline"] // 1000)
    task = await details(node, task_id)
    assert task["participants"] == [MINER.address] and task["status"] == "open"
    assert task["deadline"] == fields["deadline"] // 1000 and task["publisher"] == PUBLISHER.address
    for actor in (MINER, PUBLISHER):
        mine = (await ok(node, "ai_getMyTasks", {"address": actor.address}))["tasks"]
        assert task_id in [t["task_id"] for t in mine]
    status = await ok(node, "ai_getNetworkStatus")
    assert status["active_tasks"] >= 1 and status["active_miners"] >= 1


async def check_filters(node: Node, task_id: str, deadline_s: int) -> None:
    def found(filters: dict) -> bool:
        return task_id in [t["task_id"] for t in listed[json.dumps(filters)]]

    cases = {
        "yes": [
            {"task_type": "code_analysis"}, {"difficulty": "intermediate"},
            {"min_reward": 5 * TOKEN, "max_reward": 5 * TOKEN}, {"deadline_before": deadline_s + 1},
        ],
        "no": [
            {"task_type": "data_analysis"}, {"difficulty": "expert"}, {"min_reward": 6 * TOKEN},
            {"max_reward": TOKEN}, {"deadline_before": deadline_s},
        ],
    }  # fmt: skip
    listed = {}
    for filters in cases["yes"] + cases["no"]:
        listed[json.dumps(filters)] = (await ok(node, "ai_listActiveTasks", {"filters": filters}))[
            "tasks"
        ]
    assert all(found(f) for f in cases["yes"]), listed
    assert not any(found(f) for f in cases["no"]), listed


async def check_settled(node: Node, task: dict, submission_id: str, before: int) -> None:
    assert task["winner"] == MINER.address and task["winning_submission"] == submission_id
    [sub] = task["submissions"]
    assert sub["reached"] is True and 80 <= sub["score"] <= 84 and sub["won"], "votes clipped"
    assert 0 < sub["confidence"] <= 1
    assert await balance(node, MINER) == before + 5 * TOKEN, "reward paid, stake returned"
    stats = await ok(node, "ai_getMinerStats", {"miner_address": MINER.address})
    assert {k: stats[k] for k in ("address", "tasks_completed", "tasks_failed")} == {
        "address": MINER.address, "tasks_completed": 1, "tasks_failed": 0,
    }  # fmt: skip
    assert (stats["total_earnings"], stats["success_rate"]) == (5 * TOKEN, 1.0)
    assert stats["specializations"] == ["code_analysis"] and stats["reputation_score"] > 100
    info = await ok(node, "ai_getValidatorInfo", {"address": V1.address})
    assert (info["stake"], info["votes"], info["agreed"], info["outliers"]) == (10 * TOKEN, 1, 1, 0)
    status = await ok(node, "ai_getNetworkStatus")
    assert set(status) == {
        "active_tasks", "active_miners", "total_rewards_distributed", "network_hash_rate",
        "validated_per_hour",
    }  # fmt: skip
    assert status["total_rewards_distributed"] >= 5 * TOKEN and status["validated_per_hour"] >= 1
    assert status["network_hash_rate"] == float(status["validated_per_hour"])
    active = (await ok(node, "ai_listActiveTasks"))["tasks"]
    assert task["task_id"] not in [t["task_id"] for t in active]


async def test_publish_without_waiting_then_cancel_with_the_envelope_as_a_string(
    node: Node,
) -> None:
    before = await balance(node, PUBLISHER)
    _, envelope = PUBLISHER.envelope(wm.TaskPublish, **task_fields(deadline_in_ms=60_000))
    taken = await ok(node, "ai_publishTask", {"envelope": envelope.decode(), "wait": False})
    PUBLISHER.nonce += 1
    assert taken["status"] == "pending" and taken["task_id"] == taken["txid"]
    record = await until(
        lambda: rpc(node, "ai_getTransaction", {"txid": taken["txid"]}), lambda r: "result" in r
    )
    assert record["result"]["status"] == "accepted" and record["result"]["kind"] == "task_publish"
    assert await balance(node, PUBLISHER) == before - 5 * TOKEN, "the reward is escrowed"
    cancelled = await PUBLISHER.ok(node, "ai_cancelTask", wm.TaskCancel, task_id=taken["task_id"])
    assert cancelled["task_id"] == taken["task_id"] != cancelled["txid"]
    assert (await details(node, taken["task_id"]))["status"] == "cancelled"
    assert await balance(node, PUBLISHER) == before, "the escrow came back"


async def test_fraud_is_reported_listed_and_confirmed(node: Node) -> None:
    judge = Actor.named("judge")
    await fund(node, 1_000 * TOKEN, judge)
    await judge.ok(node, "ai_registerValidator", wm.ValidatorRegister, stake_amount=500 * TOKEN)
    await MINER2.ok(node, "ai_registerMiner", wm.MinerRegister, miner_id="m-2")
    task = await PUBLISHER.ok(node, "ai_publishTask", wm.TaskPublish,
                              **task_fields(deadline_in_ms=60_000))  # fmt: skip
    await MINER2.ok(
        node, "ai_participateTask", wm.TaskJoin, task_id=task["task_id"], stake_amount=TOKEN
    )
    report = await V1.ok(
        node, "ai_reportFraud", wm.FraudReport, accused=MINER2.address, task_id=task["task_id"],
        fraud_type="plagiarism", evidence_hash=digest("copied"),
    )  # fmt: skip
    fraud_id = report["fraud_id"]
    alerts = (await ok(node, "ai_listFraudAlerts", {"status": "open"}))["alerts"]
    [alert] = [a for a in alerts if a["fraud_id"] == fraud_id]
    assert (alert["reporter"], alert["accused"], alert["kind"]) == (
        V1.address, MINER2.address, "plagiarism",
    )  # fmt: skip
    confirmed = await judge.ok(node, "ai_confirmFraud", wm.FraudConfirm, fraud_id=fraud_id)
    assert confirmed["fraud_id"] == fraud_id != confirmed["txid"]
    [alert] = (await ok(node, "ai_listFraudAlerts", {"accused": MINER2.address}))["alerts"]
    assert (alert["status"], alert["slashed"], alert["withheld"]) == ("confirmed", TOKEN, True)
    assert (await ok(node, "ai_listFraudAlerts", {"status": "open", "accused": MINER2.address}))[
        "alerts"
    ] == []


async def test_transfers_balances_chain_and_transactions(node: Node) -> None:
    payee = Actor.named("payee")
    sent = await MINER2.ok(node, "ai_transfer", wire.Transfer, to=payee.address, amount=7)
    assert set(sent) == {"txid", "status", "kind", "seq"}
    any_kind = await MINER2.ok(node, "ai_sendTransaction", wire.Transfer, to=payee.address,
                               amount=3)  # fmt: skip
    assert any_kind["kind"] == "transfer"
    registered = await payee.ok(node, "ai_sendTransaction", wm.MinerRegister, miner_id="p")
    assert registered["kind"] == "miner_register"
    assert registered["registration_id"] == registered["txid"]
    wallet = await ok(node, "ai_getBalance", {"address": payee.address})
    assert (wallet["balance"], wallet["nonce"], wallet["next_nonce"]) == (
        10,
        payee.nonce,
        payee.nonce + 1,
    )
    record = await ok(node, "ai_getTransaction", {"txid": sent["txid"]})
    assert (record["status"], record["body"]["amount"], record["seq"]) == (
        "accepted",
        7,
        sent["seq"],
    )
    chain = await ok(node, "ai_getChainInfo")
    assert chain["chain_id"] == "hive-dev" and chain["supply"] > 0
    assert chain["market"]["rewards_paid"] >= 0 and chain["projected_seq"] > 0


async def test_positional_params_and_ids_of_every_type(node: Node) -> None:
    by_position = await ok(node, "ai_getBalance", [PUBLISHER.address])
    assert by_position["address"] == PUBLISHER.address
    for id_ in ("abc", 7, 2.5, None):
        reply = await rpc(node, "ai_getChainInfo", {}, id_=id_)
        assert reply["id"] == id_ and "result" in reply


async def test_a_batch_answers_in_order_without_notifications(node: Node) -> None:
    payee = Actor.named("batch-payee")
    _, envelope = MINER2.envelope(wire.Transfer, to=payee.address, amount=11)
    batch = [
        {"jsonrpc": "2.0", "method": "ai_getChainInfo", "id": 1},
        {"jsonrpc": "2.0", "method": "ai_transfer", "params": {"envelope": envelope.decode()}},
        7,
        {"jsonrpc": "2.0", "method": "ai_nope", "id": "x"},
        {"jsonrpc": "2.0", "method": "ai_getBalance", "params": [payee.address], "id": 3},
    ]
    status, replies = await rpc_raw(node, json.dumps(batch).encode())
    MINER2.nonce += 1
    assert status == 200 and [r["id"] for r in replies] == [1, None, "x", 3]
    assert replies[0]["result"]["chain_id"] == "hive-dev"
    assert replies[1]["error"]["code"] == -32600
    assert replies[2]["error"]["code"] == -32601
    assert replies[3]["result"]["balance"] == 11, "the notification ran, in order, before it"


async def test_notifications_alone_get_no_response(node: Node) -> None:
    before = await counts(node)
    note = {"jsonrpc": "2.0", "method": "ai_getNetworkStatus"}
    assert await rpc_raw(node, json.dumps(note).encode()) == (204, None)
    assert await rpc_raw(node, json.dumps([note, note]).encode()) == (204, None)
    bad = {"jsonrpc": "2.0", "method": "ai_getTaskDetails", "params": {"task_id": "zz"}}
    assert await rpc_raw(node, json.dumps(bad).encode()) == (204, None), "not even errors"
    assert await counts(node) == before


async def test_a_write_that_is_not_decided_in_time_says_timeout(node: Node) -> None:
    """A tiny timeout: the answer is timeout with the txid, and the write still happens."""
    payee = Actor.named("late-payee")
    _, envelope = MINER2.envelope(wire.Transfer, to=payee.address, amount=1)
    reply = await rpc(
        node, "ai_transfer", {"envelope": envelope.decode(), "wait": True, "timeout": 1e-6}
    )
    MINER2.nonce += 1
    error = reply["error"]  # a microsecond: far less than a sequencer batch and a projection
    assert (error["code"], error["data"]["code"]) == (ErrorCode.TIMEOUT.number, "timeout")
    txid = error["data"]["txid"]
    done = await until(lambda: rpc(node, "ai_getTransaction", [txid]), lambda r: "result" in r)
    assert done["result"]["status"] == "accepted"
