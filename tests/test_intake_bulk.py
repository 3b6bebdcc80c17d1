"""Bulk submission to INTAKE through a real node: envelopes in atomic batches, straight
over NATS (streams/intake_bulk.py) or through the gateway (POST /v1/txs). A duplicate
among them is decided once; a bad envelope refuses its whole request and changes
nothing; an oversize one is refused before anything of its batch is sent."""

from __future__ import annotations

import asyncio
import time

import pytest

from domain.errors import LedgerError
from gateways.bootstrap import Node
from gateways.sdk import transactions
from streams.intake_bulk import publish_bulk
from streams.keys import Keypair
from tests.node_harness import call, client, counts, module_node, raw_post, treasury_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECIPIENTS = [Keypair.from_seed32(bytes([40 + i]) * 32) for i in range(5)]


node = module_node("bulk")


async def decided(node: Node) -> int:
    rows = (await call(client(node).sql, "SELECT count(*) FROM transactions"))["rows"]
    return int(rows[0][0])


async def wait_decided(node: Node, expected: int, timeout: float = 60) -> int:
    deadline, seen = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        seen = await decided(node)
        if seen >= expected:
            return seen
        await asyncio.sleep(0.1)
    return seen


async def transfers(node: Node, count: int, amount: int = 10) -> list[bytes]:
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    first = (await call(client(node).wallet, treasury.address))["next_nonce"]
    return [
        transactions.transfer(
            treasury, chain_id="hive-dev", to=RECIPIENTS[i % 5].address, amount=amount + i,
            nonce=first + i,
        )[1]
        for i in range(count)
    ]  # fmt: skip


async def held(node: Node) -> int:
    wallets = [await call(client(node).wallet, r.address) for r in RECIPIENTS]
    return sum(w["balance"] if w else 0 for w in wallets)


async def test_bulk_over_nats_decides_each_once(node: Node) -> None:
    envelopes = await transfers(node, 60)
    before, start = await counts(node), await decided(node)
    pairs = [("transfer", e) for e in [*envelopes, envelopes[3]]]  # one replayed
    assert node.nc is not None
    seen: list[int] = []
    acks = await publish_bulk(node.nc, pairs, batch=25, in_flight=2, progress=seen.append)
    assert [a["count"] for a in acks] == [25, 25, 11] and sum(seen) == 61
    assert (await counts(node))[0] == before[0] + 61
    assert await wait_decided(node, start + 60) == start + 60  # the replay: decided once
    await asyncio.sleep(0.5)
    assert await decided(node) == start + 60
    assert await held(node) == sum(10 + i for i in range(60))

    intake_before = (await counts(node))[0]
    with pytest.raises(ValueError, match="over the limit"):
        await publish_bulk(node.nc, [("transfer", envelopes[0]), ("transfer", b"x" * 70_000)])
    assert (await counts(node))[0] == intake_before, "nothing of a refused batch is sent"


async def test_bulk_over_http_takes_all_in_order(node: Node) -> None:
    envelopes = await transfers(node, 30, amount=1_000)
    held_before, start = await held(node), await decided(node)
    body = b"\n".join([*envelopes, envelopes[0]]) + b"\n"
    status, answer = await call(raw_post, node.http_url + "/v1/txs", body)
    assert status == 202, answer
    results = answer["results"]
    assert [r["status"] for r in results] == ["pending"] * 30 + ["duplicate"]
    assert results[30]["txid"] == results[0]["txid"]
    assert await wait_decided(node, start + 30) == start + 30
    record = await call(client(node).transaction, results[7]["txid"])
    assert record["status"] == "accepted"
    more = await transfers(node, 3, amount=1)
    taken = await call(client(node).submit_many, more)  # the client's way to the same door
    assert [t["status"] for t in taken] == ["pending"] * 3
    assert await wait_decided(node, start + 33) == start + 33
    crlf = await transfers(node, 2, amount=1)
    status, answer = await call(raw_post, node.http_url + "/v1/txs", b"\r\n".join(crlf))
    assert status == 202 and [r["status"] for r in answer["results"]] == ["pending"] * 2
    assert await wait_decided(node, start + 35) == start + 35
    again = await call(client(node).submit_many, [more[1], *crlf])  # all decided already
    assert [t["status"] for t in again] == ["duplicate"] * 3
    intake_before = (await counts(node))[0]
    mixed = await transfers(node, 1, amount=1)
    taken = await call(client(node).submit_many, [more[0], *mixed])
    assert [t["status"] for t in taken] == ["duplicate", "pending"]
    assert (await counts(node))[0] == intake_before + 1, "a decided one is not published again"
    assert await wait_decided(node, start + 36) == start + 36
    with pytest.raises(LedgerError) as refused:
        await call(client(node).submit_many, [more[0], b"{}"])
    assert refused.value.code == "envelope_malformed" or "envelope 1" in refused.value.reason
    small = [1, 2, 3, 1, 2, 1]  # more (3), crlf (2), mixed (1)
    assert await held(node) == held_before + sum(1_000 + i for i in range(30)) + sum(small)


@pytest.mark.parametrize(
    ("make_body", "status", "code"),
    [
        (lambda good: b"\n".join([good[0], good[1], b'{"payload": 1}']), 400, "envelope_malformed"),
        (lambda good: b"\n".join([good[0], good[1][:-30] + b"x" * 30]), 400, None),
        (lambda good: b"\n\n", 400, "bad_request"),
        (lambda good: b"\n".join([good[0]] * 1001), 400, "bad_request"),
        (lambda good: b"x" * (8 * 1024 * 1024 + 1), 413, "body_too_large"),
    ],
    ids=["malformed-third", "tampered-second", "empty", "too-many", "too-large"],
)
async def test_bad_bulk_requests_change_nothing(
    node: Node, make_body: object, status: int, code: str | None
) -> None:
    good = await transfers(node, 2)
    before, start = await counts(node), await decided(node)
    got, answer = await call(raw_post, node.http_url + "/v1/txs", make_body(good))  # type: ignore[operator]
    assert got == status, answer
    assert answer["code"] and answer["message"]
    if code is not None:
        assert answer["code"] == code
    if "envelope" in answer["code"] or "signature" in answer["code"]:
        assert "envelope " in answer["message"]  # names the index of the bad one
    await asyncio.sleep(0.3)
    assert await counts(node) == before and await decided(node) == start


async def test_bulk_is_published_when_the_projections_cannot_say_what_is_decided() -> None:
    """Which txids are decided is a read of the projections: if it fails, the request is
    not refused for it (the sequencer decides each txid once anyway)."""
    from types import SimpleNamespace

    from streams.envelope import open_envelope
    from streams.publisher import IntakePublisher

    def broken(_txids: object) -> set[str]:
        raise RuntimeError("projections closed")

    nc = SimpleNamespace(jetstream=lambda: None)
    publisher = IntakePublisher(nc, "hive-dev", None, broken)  # type: ignore[arg-type]
    key = RECIPIENTS[0]
    _, raw = transactions.transfer(key, chain_id="hive-dev", to=key.address, amount=1, nonce=1)
    assert publisher._decided_or_none([open_envelope(raw, "hive-dev")]) == set()
    publisher.decided_among = lambda txids: set(txids)
    assert len(publisher._decided_or_none([open_envelope(raw, "hive-dev")])) == 1
