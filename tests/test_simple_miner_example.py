"""Seed 000's examples/simple_miner.py, unchanged but for its import line, against a live
node on 127.0.0.1:8545 (the URL the seed hard-codes): skipped when that port is taken.

The example builds its client without a wallet, so the SDK takes $HIVELEDGER_WALLET from
the keystore (password $HIVELEDGER_PASSWORD, home $HIVELEDGER_HOME), or else a new key
held in memory: registering works with it (free), joining a task fails with
``insufficient_funds``, which the seed's code does not catch (docs/SDK.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import socket
import sys
import types
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gateways.bootstrap import Node, NodeSettings
from gateways.sdk import AIRPCError, DifficultyLevel, HiveClient, TaskSpec, TaskType
from streams.keystore import Keystore
from tests.node_harness import FAST_KDF, treasury_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "simple_miner.py"
SEED = ROOT.parent / "shared" / "seeds" / "000_445bc2e2440e6d5d.txt"
PORT = 8545
UNIT = 10**9
WALLET, PASSWORD = "example-miner", "example-password"
MNEMONIC = " ".join(["legal", "winner", "thank", "year", "wave", "sausage", "worth", "useful",
                     "legal", "winner", "thank", "yellow"])  # fmt: skip
TXID = r"[0-9a-f]{64}"


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    if not port_free(PORT):
        pytest.skip(f"127.0.0.1:{PORT}, the seed's hard-coded node URL, is taken")
    base = tmp_path_factory.mktemp("example")
    settings = NodeSettings(data_dir=base / "data", http_port=PORT, dev=True,
                            keystore_home=base / "home")  # fmt: skip
    try:
        started = await Node(settings).start()
    except OSError as error:  # taken between the probe and the start
        pytest.skip(f"cannot serve on 127.0.0.1:{PORT}: {error}")
    try:
        async with HiveClient(started.http_url, wallet=treasury_of(base / "home")) as treasury:
            for _ in range(200):
                try:
                    await treasury.get_chain_info()
                    break
                except AIRPCError:
                    await asyncio.sleep(0.05)
        yield started
    finally:
        await started.stop()


@pytest.fixture(scope="module")
def wallet_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("wallets")
    Keystore(home, **FAST_KDF).create(WALLET, MNEMONIC, PASSWORD)
    return home


def wallet_env(home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVELEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    if home is not None:
        env.update(HIVELEDGER_HOME=str(home), HIVELEDGER_WALLET=WALLET,
                   HIVELEDGER_PASSWORD=PASSWORD)  # fmt: skip
    return env


async def run_example(env: dict[str, str]) -> tuple[int, str, str]:
    """The example as a subprocess (asyncio's: the node serves on this loop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def publish(node: Node, title: str, deadline: timedelta, **kw: Any) -> str:
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    async with HiveClient(node.http_url, wallet=treasury) as client:
        spec = TaskSpec(title, f"{title}: find the bug.", TaskType.CODE_ANALYSIS,
                        DifficultyLevel.INTERMEDIATE, 6 * UNIT, deadline, stake_required=UNIT,
                        **kw)  # fmt: skip
        return await client.publisher.publish_task(spec)


async def test_the_example_is_the_seeds_but_for_the_import_line() -> None:
    if not SEED.is_file():
        pytest.skip(f"{SEED} is not here")
    text = SEED.read_text(encoding="utf-8")
    start = text.index("# examples/simple_miner.py")
    seed = text[start : text.index("```", start)].splitlines()
    ours = EXAMPLE.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(seed, [x for x in ours if "ruff: noqa" not in x],
                                      strict=True) if a != b]  # fmt: skip
    names = "TOSAIClient, MinerConfig, AutoMiningConfig, TaskType, DifficultyLevel"
    assert changed == [(f"from tos_ai import {names}", f"from gateways.sdk import {names}")]


async def test_with_a_funded_wallet_it_registers_lists_and_joins(
    node: Node, wallet_home: Path
) -> None:
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    address = Keystore(wallet_home).address_of(WALLET)
    async with HiveClient(node.http_url, wallet=treasury) as client:
        await client.transfer(address, 10 * UNIT)
    task_id = await publish(node, "Fix the parser", timedelta(minutes=5))

    code, out, err = await run_example(wallet_env(wallet_home))
    assert code == 0, out + err
    assert re.search(rf"^矿工注册成功: {TXID}$", out, re.M), out
    assert "网络状态: 活跃任务 1, 活跃矿工 " in out and "发现 1 个活跃任务" in out, out
    assert re.search(r"^- Fix the parser: 6000000000 TOS, 截止 \d{4}-", out, re.M), out
    joined = re.search(rf"^参与任务成功: ({TXID})$", out, re.M)
    assert joined, out

    async with HiveClient(node.http_url) as reader:
        stats = await reader.get_miner_stats(address)
        assert stats.specializations == [TaskType.DATA_ANALYSIS, TaskType.CODE_ANALYSIS]
        assert address in (await reader.get_task_details(task_id)).participants
        assert (await reader.get_transaction(joined.group(1)))["status"] == "accepted"
        assert await reader.get_balance(address) == 9 * UNIT, "1 TOS staked"


async def test_the_auto_mining_example_joins_a_long_task(
    node: Node, wallet_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's auto_mining_example in this process, its 10 minutes cut to 2 s."""
    task_id = await publish(node, "Profile the hot loop", timedelta(hours=2))
    for name, value in wallet_env(wallet_home).items():
        if name.startswith("HIVELEDGER_"):
            monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("simple_miner_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    async def short_sleep(_: float) -> None:
        await asyncio.sleep(2)

    example.asyncio = types.SimpleNamespace(sleep=short_sleep, create_task=asyncio.create_task)
    await asyncio.wait_for(example.auto_mining_example(), 10)
    async with HiveClient(node.http_url) as reader:
        address = Keystore(wallet_home).address_of(WALLET)
        assert address in (await reader.get_task_details(task_id)).participants


async def test_without_a_wallet_joining_fails_with_insufficient_funds(node: Node) -> None:
    code, out, err = await run_example(wallet_env(None))
    assert code == 1, out + err
    assert re.search(rf"^矿工注册成功: {TXID}$", out, re.M), out
    assert "参与任务成功" not in out
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("gateways.sdk.errors.AIRPCError: insufficient_funds (1203): ")
    ), err
    address = re.search(r"held only in memory, (hive1[02-9ac-hj-np-z]{58})", err)
    assert address, err
    async with HiveClient(node.http_url) as reader:
        stats = await reader.get_miner_stats(address.group(1))
        assert stats.specializations == [TaskType.DATA_ANALYSIS, TaskType.CODE_ANALYSIS]
        assert await reader.get_balance(address.group(1)) == 0
