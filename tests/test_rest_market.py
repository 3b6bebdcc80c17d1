"""The marketplace under /v1 against a real node: writes through POST /v1/tx, reads through
the GET routes, each answering exactly what the JSON-RPC method over the same read does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateways.bootstrap import Node
from streams import wire
from streams import wire_market as wm
from tests.market_node import (
    TOKEN,
    Actor,
    caught_up,
    digest,
    fund,
    http,
    ok,
    rest,
    task_fields,
    until,
)
from tests.node_harness import call, client, counts, module_node

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLISHER, MINER = Actor.named("r-publisher"), Actor.named("r-miner")
V1, V2, REPORTER = Actor.named("r-v1"), Actor.named("r-v2"), Actor.named("r-reporter")
UNKNOWN = Actor.named("r-nobody")


async def fund_actors(node: Node, home: Path) -> None:
    await fund(node, 100 * TOKEN, PUBLISHER, MINER, V1, V2, REPORTER)


node = module_node("rest-market", prepare=fund_actors)


async def submit(node: Node, actor: Actor, kind: type[wire.Body], **fields: Any) -> str:
    """Through POST /v1/tx?wait=1, as any client of the REST API would."""
    txid, envelope = actor.envelope(kind, **fields)
    record = await call(client(node).submit, envelope)
    assert record["status"] == "accepted", record
    actor.nonce += 1
    return txid


async def get(node: Node, path: str) -> Any:
    status, body = await rest(node, path)
    assert status == 200, (path, status, body)
    return body


async def same_as_rpc(node: Node, path: str, method: str, params: Any = None) -> Any:
    """GET ``path`` and check JSON-RPC's ``method`` answers the same."""
    body = await get(node, path)
    assert body == await ok(node, method, params), path
    return body


async def check_listed(node: Node, task_id: str, deadline_s: int) -> None:
    """GET /v1/tasks answers as ai_listActiveTasks does, and its filters select."""
    listed = await same_as_rpc(node, "/v1/tasks", "ai_listActiveTasks", {})
    assert task_id in [t["task_id"] for t in listed["tasks"]]
    for query, expected in {
        "task_type=data_analysis&difficulty=expert": True,
        f"min_reward={5 * TOKEN}&max_reward={5 * TOKEN}&deadline_before={deadline_s + 1}": True,
        "task_type=code_analysis": False,
        f"deadline_before={deadline_s}": False,
        "status=settled": False,
        "status=all&limit=1000": True,
    }.items():
        tasks = (await get(node, f"/v1/tasks?{query}"))["tasks"]
        assert (task_id in [t["task_id"] for t in tasks]) is expected, query


async def test_a_task_through_rest(node: Node) -> None:
    await submit(node, MINER, wm.MinerRegister, miner_id="rm", specializations=["data_analysis"])
    for validator in (V1, V2):
        await submit(node, validator, wm.ValidatorRegister, stake_amount=5 * TOKEN)
    # A long validation window: the last vote settles the task, however slow the machine.
    fields = task_fields(task_type="data_analysis", difficulty="expert",
                         deadline_in_ms=6_000, validation_window=30_000)  # fmt: skip
    task_id = await submit(node, PUBLISHER, wm.TaskPublish, **fields)
    await submit(node, MINER, wm.TaskJoin, task_id=task_id, stake_amount=TOKEN)
    submission_id = await submit(
        node,
        MINER,
        wm.SolutionSubmit,
        task_id=task_id,
        content_hash=digest("x"),
        content_uri="https://x.example/s",
    )

    await check_listed(node, task_id, fields["deadline"] // 1000)
    await submit(node, REPORTER, wm.FraudReport, accused=MINER.address, task_id=task_id,
                 fraud_type="other", evidence_hash=digest("hunch"))  # fmt: skip

    task = await same_as_rpc(node, f"/v1/tasks/{task_id}", "ai_getTaskDetails", [task_id])
    assert task["participants"] == [MINER.address]
    assert task["deadline"] == fields["deadline"] // 1000
    assert task["submissions"][0]["content_uri"] == "https://x.example/s"
    for who in (MINER, PUBLISHER):
        mine = await same_as_rpc(
            node, f"/v1/addresses/{who.address}/tasks", "ai_getMyTasks", [who.address]
        )
        assert [t["task_id"] for t in mine["tasks"]] == [task_id]
    alerts = await same_as_rpc(
        node, f"/v1/fraud?accused={MINER.address}", "ai_listFraudAlerts",
        {"accused": MINER.address},
    )  # fmt: skip
    assert [a["status"] for a in alerts["alerts"]] == ["open"]
    assert (await get(node, "/v1/fraud?status=confirmed"))["alerts"] == []

    for validator in (V1, V2):
        await submit(node, validator, wm.Vote, submission_id=submission_id, score=70)

    async def details() -> Any:
        return await get(node, f"/v1/tasks/{task_id}")

    await until(details, lambda t: t["status"] == "settled")
    await caught_up(node)
    settled = await details()
    assert settled["winner"] == MINER.address and settled["payout"] == 5 * TOKEN
    stats = await same_as_rpc(node, f"/v1/miners/{MINER.address}", "ai_getMinerStats",
                              {"miner_address": MINER.address})  # fmt: skip
    assert (stats["tasks_completed"], stats["total_earnings"]) == (1, 5 * TOKEN)
    assert stats["specializations"] == ["data_analysis"]
    info = await same_as_rpc(node, f"/v1/validators/{V1.address}", "ai_getValidatorInfo",
                             [V1.address])  # fmt: skip
    assert (info["votes"], info["agreed"]) == (1, 1)
    network = await get(node, "/v1/network")
    assert network["total_rewards_distributed"] == 5 * TOKEN and network["active_tasks"] == 0
    assert network["validated_per_hour"] == 1 and network["active_miners"] == 0
    assert task_id not in [t["task_id"] for t in (await get(node, "/v1/tasks"))["tasks"]]


HEX = "0" * 64
ERRORS: list[tuple[str, str, int, str]] = [
    ("GET", "/v1/tasks/xyz", 400, "bad_request"),
    ("GET", f"/v1/tasks/{HEX}", 404, "task_not_found"),
    ("GET", "/v1/tasks?status=bogus", 400, "bad_request"),
    ("GET", "/v1/tasks?min_reward=lots", 400, "bad_request"),
    ("GET", "/v1/tasks?min_reward=-1", 400, "bad_request"),
    ("GET", "/v1/tasks?limit=0", 400, "bad_request"),
    ("GET", "/v1/tasks?task_type=mining", 400, "bad_request"),
    ("GET", "/v1/tasks?colour=red", 400, "bad_request"),
    ("GET", "/v1/tasks?limit=1&limit=2", 400, "bad_request"),
    ("GET", "/v1/miners/hive1bad", 400, "address_invalid"),
    ("GET", f"/v1/miners/{UNKNOWN.address}", 404, "miner_not_registered"),
    ("GET", f"/v1/validators/{UNKNOWN.address}", 404, "not_validator"),
    ("GET", "/v1/validators/nope", 400, "address_invalid"),
    ("GET", "/v1/fraud?status=maybe", 400, "bad_request"),
    ("GET", "/v1/fraud?accused=hive1bad", 400, "address_invalid"),
    ("GET", "/v1/addresses/hive1bad/tasks", 400, "address_invalid"),
    ("GET", "/v1/network?x=1", 400, "bad_request"),
    ("POST", "/v1/tasks", 405, "bad_request"),
    ("GET", "/rpc", 405, "bad_request"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), ERRORS)
async def test_rest_refusals_are_json_with_stable_codes_and_change_nothing(
    node: Node, method: str, path: str, status: int, code: str
) -> None:
    before = await counts(node)
    got, body = await call(http, method, node.http_url + path, b"{}" if method == "POST" else None)
    assert (got, body["code"]) == (status, code), body
    assert body["message"] and isinstance(body["number"], int)
    assert await counts(node) == before


async def test_an_address_with_no_tasks_and_a_limit(node: Node) -> None:
    assert await get(node, f"/v1/addresses/{UNKNOWN.address}/tasks") == {"tasks": []}
    assert len((await get(node, "/v1/fraud?limit=1"))["alerts"]) <= 1


async def test_openapi_documents_the_marketplace_and_json_rpc(node: Node) -> None:
    doc = await get(node, "/openapi.json")
    assert {
        "/v1/tasks", "/v1/tasks/{task_id}", "/v1/miners/{address}", "/v1/validators/{address}",
        "/v1/fraud", "/v1/network", "/v1/addresses/{address}/tasks", "/rpc", "/v1/tx",
    } <= set(doc["paths"])  # fmt: skip
    description = doc["paths"]["/rpc"]["post"]["description"]
    assert "ai_getNetworkStatus" in description and "ai_confirmFraud" in description
    schemas = doc["components"]["schemas"]
    assert "RpcParams_ai_publishTask" in schemas and "RpcResponse" in schemas
    names = [p["name"] for p in doc["paths"]["/v1/tasks"]["get"]["parameters"]]
    assert {"task_type", "difficulty", "min_reward", "max_reward", "deadline_before",
            "status", "limit"} == set(names)  # fmt: skip
    json.dumps(doc)  # serialisable as a whole
