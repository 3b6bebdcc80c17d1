"""The Python SDK against a real node (tests/node_harness.py), through the SDK only:
a task's whole life, every refusal's code, nonce recovery, keystore wallets, and the
auto-mining loop with solver plugins and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ErrorCode
from gateways.bootstrap import Node
from gateways.sdk import (
    AIRPCError,
    AIValidationError,
    AutoMiningConfig,
    DifficultyLevel,
    HiveClient,
    MinerConfig,
    TaskDetails,
    TaskFilters,
    TaskSolution,
    TaskSpec,
    TaskType,
    VerificationType,
    summary_solver,
)
from gateways.sdk.miner import solution_fields
from streams.keys import Keypair
from streams.keystore import Keystore
from tests.node_harness import FAST_KDF, module_node, treasury_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNIT = 10**9
FUNDS = 1_000 * UNIT
KEYS = {name: Keypair.from_seed32(name.encode().ljust(32, b".")) for name in (
    "publisher", "miner_a", "miner_b", "v1", "v2", "v3", "auto", "auto2", "poor")}  # fmt: skip
MINER = MinerConfig("sdk-miner", ["python"], [TaskType.CODE_ANALYSIS], 2 * UNIT, {"email": "m@x"})


async def fund_wallets(node: Node, home: Path) -> None:
    treasury = treasury_of(home)
    async with HiveClient(node.http_url, wallet=treasury) as client:
        await until(client.get_chain_info, what="the node's genesis projected")
        for name, keypair in KEYS.items():
            if name != "poor":
                await client.transfer(keypair.address, FUNDS)


node = module_node("sdk", prepare=fund_wallets)


async def until(probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Call ``probe`` (sync or async) until it returns something truthy without raising
    AIRPCError."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(AIRPCError):
            result = probe()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def clients(node: Node, *names: str) -> AsyncIterator[list[HiveClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(HiveClient(node.http_url, wallet=KEYS[n]))
            for n in names
        ]


def spec(title: str, task_type: TaskType = TaskType.LOGIC_REASONING, **kw: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "description": f"{title}. Explain the reasoning step by step.",
        "task_type": task_type, "difficulty": DifficultyLevel.INTERMEDIATE,
        "reward_amount": 5 * UNIT, "deadline": timedelta(seconds=30), "stake_required": UNIT,
        "quality_threshold": 50, "max_participants": 5,
        "validation_window": timedelta(seconds=1),
    }  # fmt: skip
    fields.update(kw)
    return TaskSpec(title=title, **fields)


async def settled(client: HiveClient, task_id: str) -> TaskDetails:
    async def probe() -> TaskDetails | None:
        details = await client.get_task_details(task_id)
        return details if details.final else None

    result: TaskDetails = await until(probe, f"task {task_id} to close")
    return result


async def test_a_task_from_publishing_to_settlement(node: Node) -> None:
    async with clients(node, "publisher", "miner_a", "miner_b", "v1", "v2", "v3") as every:
        pub, a, b, *validators = every
        await asyncio.gather(  # different signers may write at once
            *(m.miner.register(MINER) for m in (a, b)),
            *(v.validator.register(10 * UNIT) for v in validators),
        )
        # 8 s: joins, submissions and votes (four rounds of writes) all before the deadline
        task_id = await pub.publisher.publish_task(spec("Lifecycle", deadline=timedelta(seconds=8)))
        listed = await a.list_active_tasks(TaskFilters(task_type=TaskType.LOGIC_REASONING))
        assert [t.task_id for t in listed] == [task_id]
        assert listed[0].publisher == pub.address and listed[0].reward_amount == 5 * UNIT

        solutions = {
            a.address: TaskSolution("a careful answer", code="print(1)", test_results={"ok": 1}),
            b.address: TaskSolution("a sloppy answer"),
        }

        async def work(miner: HiveClient) -> str:
            assert len(await miner.miner.participate_task(task_id, UNIT)) == 64
            return await miner.miner.submit_solution(task_id, solutions[miner.address])

        submissions = dict(
            zip((a.address, b.address), await asyncio.gather(work(a), work(b)), strict=True)
        )
        scores = ((90, 30), (85, 35), (95, 40))

        async def judge(validator: HiveClient, score_a: int, score_b: int) -> None:
            await validator.validator.submit_validation(submissions[a.address], score_a)
            await validator.validator.vote(submissions[b.address], score_b)

        await asyncio.gather(*(judge(v, *s) for v, s in zip(validators, scores, strict=True)))
        details = await a.get_task_details(task_id)
        assert details.status == "open" and details.stake_required == UNIT
        assert set(details.participants) == {a.address, b.address}
        assert {s["miner"]: s["submission_id"] for s in details.submissions} == submissions
        assert [t.task_id for t in await a.miner.get_my_tasks()] == [task_id]
        fetched = await validators[0].validator.get_solution(submissions[a.address])
        assert fetched == solutions[a.address]

        final = await settled(a, task_id)
        assert (final.status, final.winner) == ("settled", a.address)
        assert (final.winning_submission, final.payout) == (submissions[a.address], 5 * UNIT)
        outcome = [(s["miner"][:12], s["votes"], s["reached"]) for s in final.submissions]
        assert all(s["reached"] and s["votes"] == 3 for s in final.submissions), outcome

        stats_a, stats_b = await a.get_miner_stats(), await a.get_miner_stats(b.address)
        assert (stats_a.tasks_completed, stats_a.tasks_failed) == (1, 0)
        assert stats_a.total_earnings == 5 * UNIT and stats_a.success_rate == 1.0
        assert (stats_b.tasks_completed, stats_b.tasks_failed, stats_b.total_earnings) == (0, 1, 0)
        assert stats_a.reputation_score > stats_b.reputation_score
        assert stats_a.specializations == [TaskType.CODE_ANALYSIS]
        assert (stats_a.miner_id, stats_a.skills) == ("sdk-miner", ["python"])

        assert await pub.get_balance() == FUNDS - 5 * UNIT
        assert await a.get_balance() == FUNDS + 5 * UNIT, "stake back, and the reward"
        assert await b.get_balance() == FUNDS, "stake back"
        assert await validators[0].get_balance() == FUNDS - 10 * UNIT, "stake still locked"
        info = await validators[0].validator.get_info()
        assert info["stake"] == 10 * UNIT and info["votes"] == 2
        status = await a.get_network_status()
        assert status.total_rewards_distributed >= 5 * UNIT and status.network_hash_rate > 0


async def refused(code: str, call: Awaitable[Any], error: type[Exception] = AIRPCError) -> None:
    with pytest.raises(error) as info:
        await call
    assert isinstance(info.value, AIRPCError | AIValidationError)
    assert info.value.code == code, info.value
    assert info.value.number == ErrorCode.from_code(code).number, info.value


async def test_every_refusal_carries_its_code(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIVELEDGER_WALLET", raising=False)
    async with clients(node, "publisher", "miner_a", "v1") as (pub, miner, validator), \
            HiveClient(node.http_url) as fresh:  # fmt: skip
        assert fresh.wallet_source == "ephemeral"
        task_id = await pub.publisher.publish_task(spec("Refusals", TaskType.GENERAL_TASK))
        await fresh.miner.register(MINER)  # free: works without funds
        await refused("already_registered", fresh.miner.register(MINER))
        await refused("insufficient_funds", fresh.miner.participate_task(task_id, UNIT))
        await refused("stake_too_low", miner.miner.participate_task(task_id, UNIT - 1))
        await refused("task_not_found", miner.miner.participate_task("0" * 64, UNIT))
        await refused("not_participant", miner.miner.submit_solution(task_id, TaskSolution("x")))
        await miner.miner.participate_task(task_id, UNIT)
        await refused("already_joined", miner.miner.participate_task(task_id, UNIT))
        await refused("not_publisher", miner.publisher.cancel_task(task_id))
        submission = await miner.miner.submit_solution(task_id, TaskSolution("x"))
        await refused("already_submitted", miner.miner.submit_solution(task_id, TaskSolution("y")))
        await refused("has_submissions", pub.publisher.cancel_task(task_id))
        await refused("not_validator", fresh.validator.vote(submission, 50))
        await refused("submission_not_found", validator.validator.vote("1" * 64, 50))
        await refused("insufficient_funds", fresh.transfer(pub.address, 1))
        await refused("self_transfer", pub.transfer(pub.address, 1))
        await refused("fraud_not_found", validator.validator.confirm_fraud("2" * 64))
        await refused("self_report", miner.validator.report_fraud(
            miner.address, task_id, "plagiarism", evidence="mine"))  # fmt: skip
        past = spec("Too late", deadline=timedelta(seconds=-5))
        await refused("deadline_invalid", pub.publisher.publish_task(past))
        await refused("task_not_found", pub.get_task_details("3" * 64))
        await refused("miner_not_registered", pub.get_miner_stats(KEYS["poor"].address))
        await refused("not_validator", pub.validator.get_info())
        await refused("address_invalid", pub.get_balance("hive1nope"))
        with pytest.raises(AIRPCError) as unknown:
            await pub.rpc_call("ai_noSuchMethod")
        assert unknown.value.number == -32601
        # refused locally, before sending: the codes the ledger would answer
        await refused("field_invalid", validator.validator.vote(submission, 101), AIValidationError)
        big = TaskSolution("x" * 3000)
        await refused("field_invalid", miner.miner.submit_solution(task_id, big), AIValidationError)
        await refused("amount_invalid", pub.transfer(miner.address, 0), AIValidationError)
        # none of the refusals used a nonce: the next writes go through
        cancelled = await pub.publisher.publish_task(spec("Cancel me", TaskType.GENERAL_TASK))
        await pub.publisher.cancel_task(cancelled)
        assert (await pub.get_task_details(cancelled)).status == "cancelled"
    async with HiveClient("http://127.0.0.1:1") as nowhere:
        await refused("unavailable", nowhere.get_network_status())


async def test_nonce_resyncs_after_another_client_used_the_key(node: Node) -> None:
    async with clients(node, "miner_b", "miner_b") as (first, second):
        before = await first.get_balance(KEYS["publisher"].address)
        await first.transfer(KEYS["publisher"].address, 1)  # first counts its own nonce
        await second.transfer(KEYS["publisher"].address, 2)  # ...which this one used now
        await first.transfer(KEYS["publisher"].address, 4)  # nonce_stale, resync, resend
        assert await first.get_balance(KEYS["publisher"].address) == before + 7


async def test_a_keystore_wallet_by_name(node: Node, tmp_path: Path) -> None:
    keypair = Keystore(tmp_path, **FAST_KDF).create(
        "alice", " ".join(["abandon"] * 11 + ["about"]), "pw"
    )
    async with HiveClient(node.http_url, wallet="alice", password="pw",
                          keystore_home=tmp_path) as client:  # fmt: skip
        assert client.address == keypair.address and client.wallet_source == "keystore:alice"
        assert await client.get_balance() == 0
    path = tmp_path / "keystore" / "alice.json"
    async with HiveClient(node.http_url, wallet_path=path, password="pw") as client:
        assert client.address == keypair.address
    with pytest.raises(AIValidationError) as info:
        async with HiveClient(node.http_url, wallet="alice", password="no", keystore_home=tmp_path):
            pass
    assert info.value.code == "keystore_password"


async def test_the_summary_solver_always_fits_inline() -> None:
    text = "长" * 1000 + ". " + "x" * 990
    task = TaskDetails("0" * 64, "题" * 128, text, TaskType.GENERAL_TASK,
                       DifficultyLevel.BEGINNER, 1, 0, datetime.now(), VerificationType.HYBRID,
                       50, [], [])  # fmt: skip
    solution = summary_solver(task)
    assert len(solution.to_content().encode()) <= 2048
    assert solution_fields(solution, None)["content_hash"] == solution.content_hash()


def picky_solver(task: TaskDetails) -> TaskSolution:
    """A sync solver (it runs in a thread) that fails on one task."""
    if "boom" in task.title:
        raise RuntimeError("this solver cannot do that one")
    return summary_solver(task)


def auto_config(**kw: Any) -> AutoMiningConfig:
    fields: dict[str, Any] = {
        "preferred_task_types": [TaskType.CODE_ANALYSIS, TaskType.DATA_ANALYSIS],
        "preferred_difficulty": DifficultyLevel.INTERMEDIATE, "min_reward": 5 * UNIT,
        "max_concurrent_tasks": 2, "min_success_probability": 0.4, "min_time_left": 1,
        "check_interval": 0.2, "auto_submit_solutions": True,
    }  # fmt: skip
    fields.update(kw)
    return AutoMiningConfig(**fields)


async def test_auto_mining_joins_solves_submits_and_stops(node: Node) -> None:
    async with clients(node, "publisher", "auto") as (pub, auto):
        code = await pub.publisher.publish_task(spec("Review this code", TaskType.CODE_ANALYSIS))
        boom = await pub.publisher.publish_task(spec("boom", TaskType.DATA_ANALYSIS,
                                                     stake_required=0))  # fmt: skip
        ignored = [
            await pub.publisher.publish_task(spec("Audit", TaskType.SECURITY_AUDIT)),
            await pub.publisher.publish_task(spec("Cheap", TaskType.CODE_ANALYSIS,
                                                  reward_amount=UNIT)),
            await pub.publisher.publish_task(spec("Hard", TaskType.CODE_ANALYSIS,
                                                  difficulty=DifficultyLevel.ADVANCED)),
        ]  # fmt: skip
        costly = await pub.publisher.publish_task(
            spec("Costly", TaskType.CODE_ANALYSIS, stake_required=5 * UNIT)
        )
        await auto.miner.register(MINER)
        config = auto_config(max_concurrent_tasks=3)
        mining = asyncio.create_task(auto.miner.start_auto_mining(config, picky_solver))
        await until(lambda: auto.miner.status()["submitted"].get(code), "the submission")
        await until(
            lambda: boom in auto.miner.auto_tasks and not auto.miner.status()["solving"],
            "the failing solve",
        )
        # its stake is above MinerConfig.stake_amount
        await until(lambda: costly in auto.miner.status()["skipped"], "the costly task skipped")
        third = await pub.publisher.publish_task(spec("A third", TaskType.CODE_ANALYSIS))
        await until(lambda: auto.miner.status()["submitted"].get(third), "the third submission")
        fourth = await pub.publisher.publish_task(spec("One too many", TaskType.CODE_ANALYSIS))
        await asyncio.sleep(1.0)  # five rounds: at most three tasks at once
        assert auto.miner.is_running and not mining.done(), "one failed task does not stop it"
        assert sorted(auto.miner.auto_tasks) == sorted([code, boom, third])

        started = time.monotonic()
        auto.miner.stop_auto_mining()
        await asyncio.wait_for(mining, 1.0)
        assert time.monotonic() - started < 1.0 and not auto.miner.is_running

        details = await auto.get_task_details(code)
        [submission] = details.submissions
        assert submission["miner"] == auto.address
        solution = await auto.validator.get_solution(submission["submission_id"])
        assert solution is not None and submission["content_hash"] == solution.content_hash()
        assert (await auto.get_task_details(boom)).submissions == []
        for task_id in (*ignored, costly, fourth):
            assert auto.address not in (await auto.get_task_details(task_id)).participants


async def test_stop_is_prompt_with_a_slow_solver_in_flight(node: Node) -> None:
    solving = asyncio.Event()

    async def slow_solver(task: TaskDetails) -> TaskSolution:
        solving.set()
        await asyncio.sleep(60)
        return TaskSolution("too late")

    async with clients(node, "publisher", "auto2") as (pub, auto):
        await pub.publisher.publish_task(spec("Slow work", TaskType.DATA_ANALYSIS))
        await auto.miner.register(MINER)
        config = auto_config(check_interval=60, max_concurrent_tasks=1)
        mining = asyncio.create_task(auto.miner.start_auto_mining(config, slow_solver))
        await asyncio.wait_for(solving.wait(), 10)
        started = time.monotonic()
        auto.miner.stop_auto_mining()
        await asyncio.wait_for(mining, 1.0)
        assert time.monotonic() - started < 1.0
        assert auto.miner.status()["solving"] == [] and auto.miner.status()["submitted"] == {}
        with pytest.raises(AIValidationError):  # auto_submit_solutions without a solver
            await auto.miner.start_auto_mining(config)
