"""Every JSON-RPC error path against a real node, and that each refusal changes nothing.

Front-door refusals (parse error, invalid request, unknown method, invalid params, a bad
envelope, a kind that is not the method's) leave INTAKE and LEDGER as they were. A
rejected transaction is recorded (that is how its submitter learns of it) but moves no
money and changes no task.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ErrorCode
from gateways.bootstrap import Node
from gateways.http.rpc_methods import WRITE_KINDS
from gateways.sdk import transactions
from streams import wire
from streams import wire_market as wm
from tests.market_node import TOKEN, Actor, digest, fund, ok, rpc, rpc_raw, task_fields
from tests.node_harness import counts, module_node

pytestmark = pytest.mark.asyncio(loop_scope="module")

RICH, POOR, LONER = Actor.named("e-rich"), Actor.named("e-poor"), Actor.named("e-loner")
M1, M2 = Actor.named("e-miner1"), Actor.named("e-miner2")
TX = "ab" * 32


async def fund_actors(node: Node, home: Path) -> None:
    await fund(node, 100 * TOKEN, RICH, M1, M2, LONER)
    await fund(node, 1_000, POOR)


node = module_node("rpc-errors", prepare=fund_actors)


def request(method: str, params: Any, id_: Any = 9) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": id_}).encode()


def transfer_envelope(**edits: Any) -> dict[str, Any]:
    _, raw = RICH.envelope(wire.Transfer, to=POOR.address, amount=1)
    envelope = json.loads(raw)
    envelope.update(edits)
    return dict(envelope)


def tampered() -> dict[str, Any]:
    envelope = transfer_envelope()
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return envelope


def other_chain() -> dict[str, Any]:
    _, raw = transactions.transfer(RICH.keypair, chain_id="elsewhere", to=POOR.address,
                                   amount=1, nonce=1)  # fmt: skip
    return dict(json.loads(raw))


STD = ErrorCode.BAD_REQUEST
# name -> (request body, expected error number, expected data.code, expected id)
CASES: dict[str, tuple[bytes, int, ErrorCode, Any]] = {
    "parse error": (b'{"jsonrpc": "2.0", "method": ', -32700, STD, None),
    "invalid utf-8": (b'{"jsonrpc": "2.0", "method": "\xff", "id": 1}', -32700, STD, None),
    "not an object": (b'"ai_getChainInfo"', -32600, STD, None),
    "empty batch": (b"[]", -32600, STD, None),
    "batch too large": (
        json.dumps([{"jsonrpc": "2.0", "method": "x", "id": 1}] * 101).encode(),
        -32600,
        STD,
        None,
    ),
    "no jsonrpc": (b'{"method": "ai_getChainInfo", "id": 4}', -32600, STD, 4),
    "wrong jsonrpc": (b'{"jsonrpc": "1.0", "method": "ai_getChainInfo", "id": 4}', -32600, STD, 4),
    "method not a string": (b'{"jsonrpc": "2.0", "method": 1, "id": 4}', -32600, STD, 4),
    "params a string": (request("ai_getChainInfo", "x"), -32600, STD, 9),
    "id a boolean": (
        b'{"jsonrpc": "2.0", "method": "ai_getChainInfo", "id": true}',
        -32600,
        STD,
        None,
    ),
    "unknown method": (request("ai_mineBitcoin", {}), -32601, STD, 9),
    "missing param": (request("ai_getTaskDetails", {}), -32602, STD, 9),
    "unknown param": (request("ai_getChainInfo", {"verbose": True}), -32602, STD, 9),
    "task id not hex": (request("ai_getTaskDetails", {"task_id": "xyz"}), -32602, STD, 9),
    "filter of a wrong type": (
        request("ai_listActiveTasks", {"filters": {"min_reward": "5"}}),
        -32602,
        STD,
        9,
    ),
    "unknown task type": (
        request("ai_listActiveTasks", {"filters": {"task_type": "mining"}}),
        -32602,
        STD,
        9,
    ),
    "too many positional": (request("ai_getBalance", ["a", "b"]), -32602, STD, 9),
    "wait not a boolean": (request("ai_transfer", {"envelope": {}, "wait": "yes"}), -32602, STD, 9),
    "no envelope": (request("ai_transfer", {"wait": True}), -32602, STD, 9),
    "bad address": (
        request("ai_getMinerStats", {"miner_address": "hive1nope"}),
        ErrorCode.ADDRESS_INVALID.number,
        ErrorCode.ADDRESS_INVALID,
        9,
    ),
    "unknown task": (
        request("ai_getTaskDetails", [TX]),
        ErrorCode.TASK_NOT_FOUND.number,
        ErrorCode.TASK_NOT_FOUND,
        9,
    ),
    "unknown transaction": (
        request("ai_getTransaction", [TX]),
        ErrorCode.NOT_FOUND.number,
        ErrorCode.NOT_FOUND,
        9,
    ),
    "envelope garbage string": (
        request("ai_transfer", {"envelope": "{{{"}),
        1001,
        ErrorCode.ENVELOPE_MALFORMED,
        9,
    ),
    "envelope a number": (
        request("ai_transfer", {"envelope": 5}),
        1001,
        ErrorCode.ENVELOPE_MALFORMED,
        9,
    ),
    "envelope with a bad signature": (
        request("ai_transfer", {"envelope": tampered()}),
        1003,
        ErrorCode.SIGNATURE_INVALID,
        9,
    ),
    "envelope of another chain": (
        request("ai_transfer", {"envelope": other_chain()}),
        1108,
        ErrorCode.CHAIN_ID_WRONG,
        9,
    ),
    "envelope with an extra key": (
        request("ai_transfer", {"envelope": transfer_envelope(x=1)}),
        1001,
        ErrorCode.ENVELOPE_MALFORMED,
        9,
    ),
    "kind is not the method's": (
        request("ai_publishTask", {"envelope": transfer_envelope()}),
        1301,
        ErrorCode.BAD_REQUEST,
        9,
    ),
    "body too large": (
        request("ai_getChainInfo", {"pad": "x" * 70_000}),
        1005,
        ErrorCode.BODY_TOO_LARGE,
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_front_door_refusals_are_error_objects_and_change_nothing(
    node: Node, case: str
) -> None:
    body, number, code, id_ = CASES[case]
    before = await counts(node)
    status, reply = await rpc_raw(node, body)
    assert status == 200 and reply["jsonrpc"] == "2.0", reply
    assert reply["id"] == id_ and "result" not in reply, reply
    error = reply["error"]
    assert (error["code"], error["data"]["code"]) == (number, code.code), error
    assert error["message"]
    assert await counts(node) == before


async def test_a_kind_mismatch_on_every_write_method(node: Node) -> None:
    _, vote = RICH.envelope(wm.Vote, submission_id=TX, score=1)
    before = await counts(node)
    for method, kind in WRITE_KINDS.items():
        reply = await rpc(node, method, {"envelope": vote.decode()})
        if kind in (None, "vote"):
            continue  # these take a vote: it is sent (and rejected, no such submission)
        assert reply["error"]["data"]["code"] == "bad_request", (method, reply)
        assert "vote" in reply["error"]["message"]
    after = await counts(node)
    assert after[0] == before[0] + 1, "only the one vote reached INTAKE (the second a duplicate)"


async def rejected(node: Node, actor: Actor, method: str, kind: type[wire.Body],
                   code: ErrorCode, **fields: Any) -> dict[str, Any]:  # fmt: skip
    """Send; expect the rejection ``code`` as an error object; return its data."""
    nonce = actor.nonce
    reply = await actor.write(node, method, kind, **fields)
    error = reply["error"]
    assert (error["code"], error["data"]["code"]) == (code.number, code.code), reply
    data = error["data"]
    assert len(data["txid"]) == 64 and data["reason"], data
    record = await ok(node, "ai_getTransaction", {"txid": data["txid"]})
    assert (record["status"], record["code"]) == ("rejected", code.code), "recorded as such"
    assert actor.nonce == nonce, "a rejected transaction uses no nonce"
    return dict(data)


async def snapshot(node: Node, task_id: str) -> tuple[Any, ...]:
    wallets = [
        (await ok(node, "ai_getBalance", [a.address]))["balance"] for a in (RICH, POOR, M1, M2)
    ]
    task = await ok(node, "ai_getTaskDetails", [task_id])
    return (*wallets, task["participants"], task["submissions"], task["status"])


async def test_rejected_transactions_are_error_objects_and_move_nothing(node: Node) -> None:
    for miner, name in ((M1, "e1"), (M2, "e2")):
        await miner.ok(node, "ai_registerMiner", wm.MinerRegister, miner_id=name)
    await M1.ok(node, "ai_registerValidator", wm.ValidatorRegister, stake_amount=TOKEN)
    task = await RICH.ok(node, "ai_publishTask", wm.TaskPublish,
                         **task_fields(deadline_in_ms=120_000, max_participants=1))  # fmt: skip
    task_id = task["task_id"]
    before = await snapshot(node, task_id)
    await rejected(node, POOR, "ai_publishTask", wm.TaskPublish, ErrorCode.INSUFFICIENT_FUNDS,
                   **task_fields())  # fmt: skip
    await rejected(node, M1, "ai_participateTask", wm.TaskJoin, ErrorCode.STAKE_TOO_LOW,
                   task_id=task_id, stake_amount=1)  # fmt: skip
    await rejected(
        node,
        LONER,
        "ai_participateTask",
        wm.TaskJoin,
        ErrorCode.MINER_NOT_REGISTERED,
        task_id=task_id,
        stake_amount=TOKEN,
    )
    await rejected(node, M1, "ai_participateTask", wm.TaskJoin, ErrorCode.TASK_NOT_FOUND,
                   task_id=TX, stake_amount=TOKEN)  # fmt: skip
    await rejected(node, M1, "ai_cancelTask", wm.TaskCancel, ErrorCode.NOT_PUBLISHER,
                   task_id=task_id)  # fmt: skip
    assert await snapshot(node, task_id) == before

    await M1.ok(node, "ai_participateTask", wm.TaskJoin, task_id=task_id, stake_amount=TOKEN)
    await M1.ok(node, "ai_submitSolution", wm.SolutionSubmit, task_id=task_id,
                content_hash=digest("s"), content="s")  # fmt: skip
    before = await snapshot(node, task_id)
    await rejected(node, M1, "ai_participateTask", wm.TaskJoin, ErrorCode.ALREADY_JOINED,
                   task_id=task_id, stake_amount=TOKEN)  # fmt: skip
    await rejected(node, M2, "ai_participateTask", wm.TaskJoin, ErrorCode.TASK_FULL,
                   task_id=task_id, stake_amount=TOKEN)  # fmt: skip
    submission_id = (await ok(node, "ai_getTaskDetails", [task_id]))["submissions"][0][
        "submission_id"
    ]
    await rejected(node, M1, "ai_submitValidation", wm.Vote, ErrorCode.SELF_VOTE,
                   submission_id=submission_id, score=100)  # fmt: skip
    await rejected(node, M2, "ai_submitValidation", wm.Vote, ErrorCode.NOT_VALIDATOR,
                   submission_id=submission_id, score=100)  # fmt: skip
    await rejected(node, M1, "ai_submitSolution", wm.SolutionSubmit, ErrorCode.ALREADY_SUBMITTED,
                   task_id=task_id, content_hash=digest("t"), content="t")  # fmt: skip
    await rejected(node, RICH, "ai_cancelTask", wm.TaskCancel, ErrorCode.HAS_SUBMISSIONS,
                   task_id=task_id)  # fmt: skip
    await rejected(node, RICH, "ai_reportFraud", wm.FraudReport, ErrorCode.SELF_REPORT,
                   accused=RICH.address, task_id=task_id, fraud_type="other",
                   evidence_hash=digest("e"))  # fmt: skip
    await rejected(node, M1, "ai_confirmFraud", wm.FraudConfirm, ErrorCode.FRAUD_NOT_FOUND,
                   fraud_id=TX)  # fmt: skip
    assert await snapshot(node, task_id) == before


async def test_a_stale_nonce_is_a_rejection_with_its_code(node: Node) -> None:
    await RICH.ok(node, "ai_transfer", wire.Transfer, to=POOR.address, amount=1)
    RICH.nonce -= 1  # sign the next one with the nonce just used
    try:
        await rejected(node, RICH, "ai_transfer", wire.Transfer, ErrorCode.NONCE_STALE,
                       to=POOR.address, amount=2)  # fmt: skip
    finally:
        RICH.nonce += 1
