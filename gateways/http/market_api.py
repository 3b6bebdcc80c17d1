"""The marketplace's operations, one function each, shared by JSON-RPC (/rpc) and REST (/v1).

Reads run the blocking DuckDB reads in threads. Writes take a signed envelope and go
through the node's Submitter exactly as POST /v1/tx does (check, publish to INTAKE, wait
for the decision, read its record); a rejection becomes a ``GatewayError`` carrying the
rejection's stable code, the txid and the reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from domain.errors import ErrorCode, LedgerError
from gateways.http.market_params import (
    AddressParams,
    FraudQuery,
    ListTasksParams,
    MinerParams,
    MyTasksParams,
    NoParams,
    TaskFilters,
    TaskIdParams,
    TaskQuery,
    TxidParams,
    WriteParams,
)
from gateways.http.ports import MarketReadsPort, Reads, Submitter
from streams.address import decode_address
from streams.envelope import OpenedTx, open_envelope


@dataclass(frozen=True)
class Gateway:
    """What the marketplace's handlers need from the node."""

    submitter: Submitter
    reads: Reads
    market: MarketReadsPort


GATEWAY = web.AppKey("market_gateway", Gateway)


class GatewayError(LedgerError):
    """A refusal with more to say than its code: ``data`` goes into JSON-RPC's error data
    (and REST's error body)."""

    def __init__(self, code: ErrorCode, reason: str, data: dict[str, Any]) -> None:
        super().__init__(code, reason)
        self.data = data


# -- reads ---------------------------------------------------------------------------


def _address(address: str) -> str:
    decode_address(address)  # address_invalid on a malformed address or a bad checksum
    return address


async def network_status(gw: Gateway, _: NoParams) -> dict[str, Any]:
    return await asyncio.to_thread(gw.market.network_status)


async def task_details(gw: Gateway, params: TaskIdParams) -> dict[str, Any]:
    task = await asyncio.to_thread(gw.market.task, params.task_id)
    if task is None:
        raise LedgerError(ErrorCode.TASK_NOT_FOUND, f"no task {params.task_id}")
    return task


async def list_active_tasks(gw: Gateway, params: ListTasksParams) -> dict[str, Any]:
    filters = params.filters or TaskFilters()
    return {"tasks": await asyncio.to_thread(gw.market.tasks, filters)}


async def list_tasks(gw: Gateway, query: TaskQuery) -> dict[str, Any]:
    return {"tasks": await asyncio.to_thread(gw.market.tasks, query)}


async def my_tasks(gw: Gateway, params: MyTasksParams) -> dict[str, Any]:
    address = _address(params.address)
    return {"tasks": await asyncio.to_thread(gw.market.my_tasks, address, params.limit)}


async def miner_stats(gw: Gateway, params: MinerParams) -> dict[str, Any]:
    address = _address(params.miner_address)
    stats = await asyncio.to_thread(gw.market.miner, address)
    if stats is None:
        raise LedgerError(ErrorCode.MINER_NOT_REGISTERED, f"{address} is not a registered miner")
    return stats


async def validator_info(gw: Gateway, params: AddressParams) -> dict[str, Any]:
    address = _address(params.address)
    info = await asyncio.to_thread(gw.market.validator, address)
    if info is None:
        raise LedgerError(ErrorCode.NOT_VALIDATOR, f"{address} is not a registered validator")
    return info


async def fraud_alerts(gw: Gateway, query: FraudQuery) -> dict[str, Any]:
    if query.accused is not None:
        _address(query.accused)
    return {"alerts": await asyncio.to_thread(gw.market.fraud_alerts, query)}


async def balance(gw: Gateway, params: AddressParams) -> dict[str, Any]:
    address = _address(params.address)
    wallet = await asyncio.to_thread(gw.reads.wallet, address)
    if wallet is None:
        wallet = {"address": address, "balance": 0, "nonce": 0, "exists": False}
    wallet["next_nonce"] = wallet["nonce"] + 1
    return wallet


async def transaction(gw: Gateway, params: TxidParams) -> dict[str, Any]:
    record = await asyncio.to_thread(gw.reads.transaction, params.txid)
    if record is None:
        raise LedgerError(ErrorCode.NOT_FOUND, f"no decided transaction {params.txid}")
    return record


async def chain_info(gw: Gateway, _: NoParams) -> dict[str, Any]:
    chain = await asyncio.to_thread(gw.reads.chain)
    if chain is None:
        raise LedgerError(ErrorCode.UNAVAILABLE, "the chain's genesis is not projected yet")
    market = await asyncio.to_thread(gw.market.market)
    return {**chain, "market": market, "projected_seq": gw.reads.position()}


# -- writes --------------------------------------------------------------------------

# The id each kind's result carries under seed 000's name: the transaction's own id,
# or (for a cancel or a confirmation) the id of the task or alert it acts on.
ID_NAMES: dict[str, str] = {
    "task_publish": "task_id",
    "task_cancel": "task_id",
    "miner_register": "registration_id",
    "task_join": "participation_id",
    "solution_submit": "submission_id",
    "validator_register": "registration_id",
    "vote": "vote_id",
    "fraud_report": "fraud_id",
    "fraud_confirm": "fraud_id",
}


def named_id(opened: OpenedTx) -> dict[str, str]:
    name = ID_NAMES.get(opened.kind)
    if name is None:
        return {}
    if opened.kind == "task_cancel":
        return {name: opened.body.task_id}
    if opened.kind == "fraud_confirm":
        return {name: opened.body.fraud_id}
    return {name: opened.txid}


def envelope_bytes(raw: msgspec.Raw) -> bytes:
    """The envelope as sent: a JSON object's bytes as they are, or a string's content."""
    data = bytes(raw)
    if data[:1] == b'"':
        return msgspec.json.decode(data, type=str).encode()
    return data


async def write(gw: Gateway, params: WriteParams, kind: str | None) -> dict[str, Any]:
    """Check the envelope (its own code on a fault), check its kind is ``kind`` (any kind
    when None), submit it, and unless told not to wait, answer with the decision."""
    raw = envelope_bytes(params.envelope)
    opened = await asyncio.to_thread(open_envelope, raw, gw.market.chain_id)
    if kind is not None and opened.kind != kind:
        raise LedgerError(
            ErrorCode.BAD_REQUEST,
            f"this method takes a {kind} transaction; the envelope holds a {opened.kind}",
        )
    taken = await gw.submitter.publish(opened)
    ids = named_id(opened)
    if not params.wait:
        return {"txid": taken.txid, "status": taken.status, "kind": opened.kind, **ids}
    if not await gw.submitter.wait_decided(taken.txid, params.timeout):
        raise GatewayError(
            ErrorCode.TIMEOUT,
            f"{taken.txid} not decided within {params.timeout}s; ask ai_getTransaction later",
            {"txid": taken.txid},
        )
    record = await asyncio.to_thread(gw.reads.transaction, taken.txid)
    if record is None:  # decided means projected; absence here is a bug, say so
        raise LedgerError(ErrorCode.UNAVAILABLE, f"{taken.txid} decided but not found")
    if record["status"] != "accepted":
        raise rejection(record)
    return {"txid": taken.txid, "status": "accepted", "kind": opened.kind, **ids,
            "seq": record["seq"]}  # fmt: skip


def rejection(record: dict[str, Any]) -> GatewayError:
    reason = record.get("reason") or ""
    data = {"code": record["code"], "txid": record["txid"], "reason": reason}
    try:
        code = ErrorCode.from_code(record["code"])
    except KeyError:  # a code from a newer sequencer: keep its string, say what we know
        code = ErrorCode.BAD_REQUEST
    return GatewayError(code, f"rejected: {reason or code.description}", data)
