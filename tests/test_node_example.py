"""The second-language example (examples/node) against our vectors and a real nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from streams.envelope import open_envelope
from streams.keys import Keypair

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node"
NODE = shutil.which("node")
MNEMONIC = " ".join(["abandon"] * 23 + ["art"])
CHAIN = "hive-node-example"
SUBJECT = "hive.intake.transfer"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH (it is optional)")


def test_check_vectors() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(EXAMPLE / "check_vectors.mjs")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith(" passed, 0 failed"), done.stdout


async def _publish(url: str, *args: str) -> dict[str, Any]:
    code, out, err = await _run(url, *args)
    assert code == 0, (out + err).decode()
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture
async def intake_stream(nats_server: Any) -> AsyncIterator[str]:
    """The stream that takes hive.intake.transfer: another test's if one exists, else ours."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    created = False
    try:
        name = await js.find_stream_name_by_subject(SUBJECT)
    except NotFoundError:
        name = "INTAKE"
        await js.add_stream(name=name, subjects=["hive.intake.>"], duplicate_window=120.0)
        created = True
    try:
        yield name
    finally:
        if created:
            await js.delete_stream(name)
        await nc.close()


async def test_publish_transfer(nats_server: Any, intake_stream: str) -> None:
    recipient = Keypair.from_mnemonic(MNEMONIC, index=1).address
    args = ("--chain-id", CHAIN, "--to", recipient, "--amount", str(2**63 - 1),
            "--nonce", "1", "--memo", "from node ☕", "--created-at", "1700000000000")  # fmt: skip
    first = await _publish(nats_server.url, *args)
    assert first["stream"] == intake_stream and first["duplicate"] is False
    assert first["subject"] == SUBJECT

    nc = await nats.connect(nats_server.url)
    try:
        stored = await nc.jetstream().get_msg(intake_stream, first["seq"])
    finally:
        await nc.close()
    assert stored.subject == SUBJECT
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == first["txid"]
    opened = open_envelope(stored.data, CHAIN)
    assert opened.txid == first["txid"]
    assert opened.signer == Keypair.from_mnemonic(MNEMONIC).address
    assert opened.body.to == recipient
    assert opened.body.amount == 2**63 - 1  # exact, beyond JavaScript's 2^53
    assert opened.body.memo == "from node ☕"

    again = await _publish(nats_server.url, *args)
    assert again["txid"] == first["txid"]
    assert again["duplicate"] is True and again["seq"] == first["seq"]


async def _run(url: str, *args: str) -> tuple[int, bytes, bytes]:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(EXAMPLE / "publish_transfer.mjs"), "--nats", url, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HIVE_MNEMONIC": MNEMONIC},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_publish_refuses_a_bad_amount(nats_server: Any) -> None:
    recipient = Keypair.from_mnemonic(MNEMONIC, index=1).address
    code, _, err = await _run(nats_server.url, "--chain-id", CHAIN, "--to", recipient,
                              "--amount", "0", "--nonce", "1")  # fmt: skip
    assert code == 2 and b"--amount must be in 1.." in err


async def test_publish_without_a_stream_fails_clearly(fresh_nats_server: Any) -> None:
    recipient = Keypair.from_mnemonic(MNEMONIC, index=1).address
    code, _, err = await _run(fresh_nats_server.url, "--chain-id", CHAIN, "--to", recipient,
                              "--amount", "1", "--nonce", "1")  # fmt: skip
    assert code == 1 and b"no stream listens on hive.intake.transfer" in err
