"""A real node for tests, built through the composition root: embedded nats-server,
sequencer, DuckDB projector and HTTP gateway on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gateways.bootstrap import Node, NodeSettings
from gateways.sdk.node_http import NodeHTTP
from streams.jetstream import stream_info
from streams.keys import Keypair
from streams.keystore import Keystore

FAST_KDF = {"opslimit": 1, "memlimit": 8192}


def settings_for(data: Path, home: Path) -> NodeSettings:
    return NodeSettings(data_dir=data, http_port=0, dev=True, keystore_home=home)


async def start_node(data: Path, home: Path) -> Node:
    return await Node(settings_for(data, home)).start()


Prepare = Callable[[Node, Path], Awaitable[object]]


def module_node(tag: str, prepare: Prepare | None = None) -> Any:
    """A module-scoped fixture ``node``: one dev node for the whole test module, under a
    directory named after ``tag``; ``prepare(node, home)`` runs once it is up (funding
    wallets, say). Use as ``node = module_node("rpc", prepare=...)``."""

    @pytest_asyncio.fixture(loop_scope="module", scope="module")
    async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
        base = tmp_path_factory.mktemp(tag)
        started = await start_node(base / "data", base / "home")
        try:
            if prepare is not None:
                await prepare(started, base / "home")
            yield started
        finally:
            await started.stop()

    return node


def treasury_of(home: Path) -> Keypair:
    return Keystore(home).load("treasury", "")


def raw_post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def counts(node: Node) -> tuple[int, int]:
    """(INTAKE messages, LEDGER messages): a refusal at the front door changes neither."""
    assert node.nc is not None
    intake = await stream_info(node.nc, "INTAKE")
    ledger = await stream_info(node.nc, "LEDGER")
    assert intake is not None and ledger is not None
    return intake["state"]["messages"], ledger["state"]["messages"]


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A blocking call (HTTP client, CLI) off the event loop that runs the node."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def client(node: Node) -> NodeHTTP:
    return NodeHTTP(node.http_url)
