"""Helpers for marketplace tests against a real node: actors that sign any kind with their
own nonces, JSON-RPC and REST calls over real HTTP, funding from the dev treasury, polls."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateways.bootstrap import Node
from gateways.sdk import transactions
from streams import wire
from streams.jetstream import stream_info
from streams.keys import Keypair
from tests.node_harness import call, client, treasury_of

CHAIN = "hive-dev"
TOKEN = 10**9


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body or None when empty)."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


async def rpc_raw(node: Node, body: bytes) -> tuple[int, Any]:
    return await call(http, "POST", f"{node.http_url}/rpc", body)


async def rpc(node: Node, method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    """The whole response object of one JSON-RPC call."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        request["params"] = params
    status, reply = await rpc_raw(node, json.dumps(request).encode())
    assert status == 200, (status, reply)
    assert reply["jsonrpc"] == "2.0" and reply["id"] == id_, reply
    return dict(reply)


async def ok(node: Node, method: str, params: Any = None) -> Any:
    reply = await rpc(node, method, params)
    assert "error" not in reply, reply
    return reply["result"]


async def rest(node: Node, path: str) -> tuple[int, Any]:
    return await call(http, "GET", node.http_url + path)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Actor:
    """A key and its last used nonce; a write that is not accepted does not use a nonce."""

    keypair: Keypair
    nonce: int = 0

    @classmethod
    def named(cls, name: str) -> Actor:
        return cls(Keypair.from_seed32(hashlib.sha256(name.encode()).digest()))

    @property
    def address(self) -> str:
        return self.keypair.address

    def envelope(self, kind: type[wire.Body], **fields: Any) -> tuple[str, bytes]:
        """Signed with the next nonce (not used up until ``accepted``)."""
        return transactions.sign(self.keypair, kind, chain_id=CHAIN, nonce=self.nonce + 1,
                                 **fields)  # fmt: skip

    async def write(
        self, node: Node, method: str, kind: type[wire.Body], *, wait: bool = True, **fields: Any
    ) -> dict[str, Any]:
        """Sign, send by JSON-RPC; the whole response (result or error)."""
        _, envelope = self.envelope(kind, **fields)
        reply = await rpc(node, method, {"envelope": json.loads(envelope), "wait": wait})
        if "result" in reply:
            self.nonce += 1
        return reply

    async def ok(self, node: Node, method: str, kind: type[wire.Body], **fields: Any) -> Any:
        reply = await self.write(node, method, kind, **fields)
        assert "error" not in reply, reply
        assert reply["result"]["status"] == "accepted", reply
        return reply["result"]


async def fund(node: Node, amount: int, *actors: Actor) -> None:
    """Transfers from the dev treasury through POST /v1/tx, as test_node_e2e does."""
    api = client(node)
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    for actor in actors:
        nonce = (await call(api.wallet, treasury.address))["next_nonce"]
        _, envelope = transactions.transfer(
            treasury, chain_id=CHAIN, to=actor.address, amount=amount, nonce=nonce
        )
        result = await call(api.submit, envelope)
        assert result["status"] == "accepted", result


def task_fields(deadline_in_ms: int = 4_000, **edits: Any) -> dict[str, Any]:
    """A task_publish body's own fields, due a few seconds from now."""
    fields: dict[str, Any] = {
        "title": "Audit the parser",
        "description": "find the bugs",
        "task_type": "code_analysis",
        "difficulty": "intermediate",
        "reward_amount": 5 * TOKEN,
        "stake_required": TOKEN,
        "deadline": time.time_ns() // 1_000_000 + deadline_in_ms,
        "validation_window": 1_000,
        "verification_type": "peer_review",
        "quality_threshold": 50,
        "max_participants": 3,
    }
    fields.update(edits)
    return fields


async def caught_up(node: Node) -> None:
    """Wait until the projections reach the LEDGER's last message. A projector batch may end
    inside one of the sequencer's atomic writes (a settlement by the clock has no
    transaction record to wait for), so a figure read just after a task shows ``settled``
    may still be the one from before that write."""
    assert node.nc is not None
    info = await stream_info(node.nc, "LEDGER")
    assert info is not None
    last = info["state"]["last_seq"]
    await until(lambda: rest(node, "/healthz"), lambda r: r[1]["projected_seq"] >= last)


async def until(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 20.0
) -> Any:
    """Poll ``probe`` until ``done`` holds for its value; the last value on timeout fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout}s"
        await asyncio.sleep(0.2)
