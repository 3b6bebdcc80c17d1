"""End to end through a real node: HTTP in, JetStream, sequencer, DuckDB, HTTP out.

Every refusal at the HTTP front door is checked to change nothing: no message in INTAKE,
no event in LEDGER, no balance moved.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from domain.errors import ErrorCode
from gateways.bootstrap import Node
from gateways.sdk import transactions
from streams.envelope import PAYLOAD_TYPE, pae
from streams.keys import Keypair
from tests.node_harness import call, client, counts, module_node, raw_post, treasury_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALICE = Keypair.from_seed32(b"a" * 32)
BOB = Keypair.from_seed32(b"b" * 32)


node = module_node("node")


async def fund(node: Node, to: Keypair, amount: int) -> dict[str, Any]:
    api = client(node)
    treasury = treasury_of(node.settings.keystore_home)  # type: ignore[arg-type]
    nonce = (await call(api.wallet, treasury.address))["next_nonce"]
    _, envelope = transactions.transfer(
        treasury, chain_id="hive-dev", to=to.address, amount=amount, nonce=nonce
    )
    return await call(api.submit, envelope)


async def test_transfer_is_accepted_projected_and_readable(node: Node) -> None:
    result = await fund(node, ALICE, 1_000)
    assert result["status"] == "accepted", result
    api = client(node)
    wallet = await call(api.wallet, ALICE.address)
    assert (wallet["balance"], wallet["nonce"], wallet["next_nonce"]) == (1_000, 0, 1)
    record = await call(api.transaction, result["txid"])
    assert record["status"] == "accepted" and record["body"]["amount"] == 1_000
    chain = await call(api.chain)
    rows = (await call(api.sql, "SELECT sum(balance) FROM wallets"))["rows"]
    assert int(rows[0][0]) == chain["supply"], "money is conserved"


def signed(keypair: Keypair, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    sig = base64.b64encode(keypair.sign(pae(PAYLOAD_TYPE, data))).decode()
    return json.dumps(
        {
            "payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(data).decode(),
            "signatures": [{"keyid": keypair.address, "sig": sig}],
        }
    ).encode()


def transfer_body(**edits: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chain_id": "hive-dev",
        "kind": "transfer",
        "signer": ALICE.address,
        "nonce": 1,
        "created_at": 1_700_000_000_000,
        "to": BOB.address,
        "amount": 5,
    }
    body.update(edits)
    return {k: v for k, v in body.items() if v is not None}


def tampered_signature() -> bytes:
    envelope = json.loads(signed(ALICE, transfer_body()))
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(envelope).encode()


BAD_INPUTS: dict[str, tuple[bytes, ErrorCode]] = {
    "not json": (b"{{{", ErrorCode.ENVELOPE_MALFORMED),
    "bad signature": (tampered_signature(), ErrorCode.SIGNATURE_INVALID),
    "signed by another key": (signed(BOB, transfer_body()), ErrorCode.SIGNER_MISMATCH),
    "wrong chain": (signed(ALICE, transfer_body(chain_id="elsewhere")), ErrorCode.CHAIN_ID_WRONG),
    "unknown kind": (signed(ALICE, transfer_body(kind="steal")), ErrorCode.KIND_UNKNOWN),
    "missing field": (signed(ALICE, transfer_body(to=None)), ErrorCode.FIELD_MISSING),
    "extra field": (signed(ALICE, transfer_body(fee=1)), ErrorCode.FIELD_UNKNOWN),
    "zero amount": (signed(ALICE, transfer_body(amount=0)), ErrorCode.AMOUNT_INVALID),
    "negative amount": (signed(ALICE, transfer_body(amount=-5)), ErrorCode.AMOUNT_INVALID),
    "fractional amount": (signed(ALICE, transfer_body(amount=1.5)), ErrorCode.AMOUNT_INVALID),
    "float amount": (signed(ALICE, transfer_body(amount=5.0)), ErrorCode.AMOUNT_INVALID),
    "amount over 2^63-1": (signed(ALICE, transfer_body(amount=2**63)), ErrorCode.AMOUNT_INVALID),
    "malformed address": (signed(ALICE, transfer_body(to="hive1nope")), ErrorCode.ADDRESS_INVALID),
    "oversize body": (signed(ALICE, transfer_body(memo="x" * 5000)), ErrorCode.BODY_TOO_LARGE),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_is_refused_with_its_code_and_changes_nothing(
    node: Node, case: str
) -> None:
    raw, code = BAD_INPUTS[case]
    before = await counts(node)
    status, body = await call(raw_post, f"{node.http_url}/v1/tx?wait=1", raw)
    assert (status, body["code"], body["number"]) == (
        400 if code != ErrorCode.BODY_TOO_LARGE else 413,
        code.code,
        code.number,
    )
    assert body["message"]
    assert await counts(node) == before


async def test_ledger_rules_are_recorded_as_rejections_and_move_nothing(node: Node) -> None:
    await fund(node, BOB, 50)
    api = client(node)
    nonce = (await call(api.wallet, BOB.address))["next_nonce"]
    _, first = transactions.transfer(
        BOB, chain_id="hive-dev", to=ALICE.address, amount=1, nonce=nonce
    )
    assert (await call(api.submit, first))["status"] == "accepted"
    before = (await call(api.wallet, BOB.address))["balance"]
    cases = {
        "nonce_gap": dict(nonce=nonce + 2, amount=1),
        "nonce_stale": dict(nonce=nonce, amount=1),
        "insufficient_funds": dict(nonce=nonce + 1, amount=10_000),
    }
    for code, fields in cases.items():
        _, envelope = transactions.transfer(
            BOB,
            chain_id="hive-dev",
            to=ALICE.address,
            **fields,  # type: ignore[arg-type]
        )
        result = await call(api.submit, envelope)
        assert (result["status"], result["code"]) == ("rejected", code), result
        assert result["reason"]
    assert (await call(api.wallet, BOB.address))["balance"] == before


async def test_a_duplicate_submission_changes_nothing(node: Node) -> None:
    carol = Keypair.from_seed32(b"c" * 32)
    await fund(node, carol, 100)
    api = client(node)
    _, envelope = transactions.transfer(
        carol, chain_id="hive-dev", to=BOB.address, amount=7, nonce=1
    )
    first = await call(api.submit, envelope)
    bob = (await call(api.wallet, BOB.address))["balance"]
    status, again = await call(raw_post, f"{node.http_url}/v1/tx", envelope)
    assert (status, again["status"]) == (202, "duplicate")
    decided = await call(api.submit, envelope)
    assert decided["txid"] == first["txid"] and decided["status"] == "accepted"
    assert (await call(api.wallet, BOB.address))["balance"] == bob


async def test_garbage_published_straight_to_intake_is_recorded_and_moves_nothing(
    node: Node,
) -> None:
    from streams.intake import raw_id

    assert node.nc is not None
    garbage = b"\x00 not an envelope"
    await node.nc.jetstream().publish("hive.intake.transfer", garbage)
    api = client(node)
    # GET /v1/tx/{txid}?wait=1 waits for a transaction that never went through the gateway
    record = await call(api.transaction, raw_id(garbage), 20)
    assert (record["status"], record["code"], record["signer"]) == (
        "rejected",
        "envelope_malformed",
        "",
    )


@pytest.mark.parametrize(
    ("path", "method", "body", "code"),
    [
        ("/v1/tx/xyz", "GET", None, "bad_request"),
        ("/v1/tx/" + "0" * 64, "GET", None, "not_found"),
        ("/v1/tx/" + "0" * 64 + "?wait=1&timeout=0.2", "GET", None, "timeout"),
        ("/v1/tx/" + "0" * 64 + "?wait=1&timeout=0", "GET", None, "bad_request"),
        ("/v1/tx/" + "0" * 64 + "?wait=yes", "GET", None, "bad_request"),
        ("/v1/wallets/hive1bad", "GET", None, "address_invalid"),
        ("/v1/sql", "POST", b'{"sql": "DROP TABLE wallets"}', "sql_refused"),
        ("/v1/sql", "POST", b'{"sql": "SELECT * FROM read_csv(\'/etc/passwd\')"}', "sql_refused"),
        ("/v1/sql", "POST", b'{"sql": "SELEC 1"}', "sql_error"),
        ("/v1/sql", "POST", b'{"query": "SELECT 1"}', "bad_request"),
        ("/v1/tx?wait=2", "POST", b"{}", "bad_request"),
        ("/nowhere", "GET", None, "not_found"),
    ],
)
async def test_http_errors_are_json_with_stable_codes(
    node: Node, path: str, method: str, body: bytes | None, code: str
) -> None:
    import urllib.request

    def go() -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(node.http_url + path, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    before = await counts(node)
    status, payload = await call(go)
    assert status >= 400 and payload["code"] == code and payload["message"]
    assert await counts(node) == before


async def test_openapi_health_and_metrics(node: Node) -> None:
    import urllib.request

    def get(path: str) -> bytes:
        with urllib.request.urlopen(node.http_url + path, timeout=10) as response:
            return response.read()

    doc = json.loads(await call(get, "/openapi.json"))
    assert {"/v1/tx", "/v1/tx/{txid}", "/v1/wallets/{address}", "/v1/sql", "/healthz"} <= set(
        doc["paths"]
    )
    assert "Envelope" in doc["components"]["schemas"]
    health = json.loads(await call(get, "/healthz"))
    assert health["status"] == "ok" and health["projected_seq"] > 0
    metrics = (await call(get, "/metrics")).decode()
    assert "hiveledger_sequencer_accepted_total" in metrics
    for _ in range(200):  # ready once its check stage has answered (a process starting)
        if "hiveledger_sequencer_ready 1.0" in metrics:
            break
        await asyncio.sleep(0.05)
        metrics = (await call(get, "/metrics")).decode()
    assert "hiveledger_sequencer_ready 1.0" in metrics
