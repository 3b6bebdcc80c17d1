"""REST under /v1: submit signed envelopes, read transactions, wallets, the chain, SQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from domain.errors import ErrorCode, LedgerError
from gateways.http.ports import Reads, Submitter
from streams.address import decode_address

SUBMITTER = web.AppKey("submitter", Submitter)
READS = web.AppKey("reads", Reads)
HEALTH = web.AppKey("health", Callable[[], list[str]])
TXID = re.compile(r"^[0-9a-f]{64}$")
WAIT_DEFAULT_S = 10.0
WAIT_MAX_S = 60.0
BULK_MAX_BYTES = 8 * 1024 * 1024


class SqlRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sql: str


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _wait_seconds(request: web.Request) -> float | None:
    wait = request.query.get("wait", "0")
    if wait in ("0", "false", ""):
        return None
    if wait in ("1", "true"):
        raw = request.query.get("timeout", str(WAIT_DEFAULT_S))
        try:
            seconds = float(raw)
        except ValueError:
            raise LedgerError(ErrorCode.BAD_REQUEST, f"timeout {raw!r} is not a number") from None
        if not 0 < seconds <= WAIT_MAX_S:
            raise LedgerError(ErrorCode.BAD_REQUEST, f"timeout must be in (0, {WAIT_MAX_S}]")
        return seconds
    raise LedgerError(ErrorCode.BAD_REQUEST, "wait must be 0 or 1")


async def _wait_decided(request: web.Request, txid: str, seconds: float) -> None:
    """Until ``txid``'s decision is projected; TIMEOUT after ``seconds``."""
    if not await request.app[SUBMITTER].wait_decided(txid, seconds):
        raise LedgerError(ErrorCode.TIMEOUT, f"{txid} not decided within {seconds}s")


def _txid(request: web.Request) -> str:
    txid = request.match_info["txid"]
    if not TXID.match(txid):
        raise LedgerError(ErrorCode.BAD_REQUEST, "a transaction id is 64 lowercase hex digits")
    return txid


async def submit_tx(request: web.Request) -> web.Response:
    wait = _wait_seconds(request)
    result = await request.app[SUBMITTER].submit(await request.read())
    if wait is None:
        return json_response({"txid": result.txid, "status": result.status}, status=202)
    await _wait_decided(request, result.txid, wait)
    record = await asyncio.to_thread(request.app[READS].transaction, result.txid)
    if record is None:  # decided means projected; absence here is a bug, say so
        raise LedgerError(ErrorCode.UNAVAILABLE, f"{result.txid} decided but not found")
    return json_response(record)


async def submit_txs(request: web.Request) -> web.Response:
    """Many envelopes, one per line (NDJSON, each line the envelope's bytes as signed; a
    CRLF line end is taken as a line end): all checked, then taken into INTAKE together
    as one atomic batch, or none of them."""
    body = await _read_bounded(request, BULK_MAX_BYTES)
    envelopes = [line.removesuffix(b"\r") for line in body.split(b"\n") if line.strip()]
    results = await request.app[SUBMITTER].submit_many(envelopes)
    return json_response(
        {"results": [{"txid": r.txid, "status": r.status} for r in results]}, status=202
    )


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (the app-wide limit is smaller)."""
    too_large = LedgerError(ErrorCode.BODY_TOO_LARGE, f"a bulk request is at most {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def get_tx(request: web.Request) -> web.Response:
    """A transaction's record; with ``wait=1``, waits up to ``timeout`` s for its decision
    (a transaction submitted any way: through this gateway, in bulk, or straight to
    INTAKE)."""
    txid = _txid(request)
    wait = _wait_seconds(request)
    if wait is not None:
        await _wait_decided(request, txid, wait)
    record = await asyncio.to_thread(request.app[READS].transaction, txid)
    if record is None:
        raise LedgerError(ErrorCode.NOT_FOUND, f"no decided transaction {txid}")
    return json_response(record)


async def get_wallet(request: web.Request) -> web.Response:
    address = request.match_info["address"]
    decode_address(address)
    wallet = await asyncio.to_thread(request.app[READS].wallet, address)
    if wallet is None:
        wallet = {"address": address, "balance": 0, "nonce": 0, "exists": False}
    wallet["next_nonce"] = wallet["nonce"] + 1
    return json_response(wallet)


async def get_chain(request: web.Request) -> web.Response:
    chain = await asyncio.to_thread(request.app[READS].chain)
    if chain is None:
        raise LedgerError(ErrorCode.UNAVAILABLE, "the chain's genesis is not projected yet")
    return json_response(chain)


async def post_sql(request: web.Request) -> web.Response:
    try:
        query = msgspec.json.decode(await request.read(), type=SqlRequest)
    except msgspec.DecodeError as error:
        raise LedgerError(ErrorCode.BAD_REQUEST, f'expected {{"sql": "..."}}: {error}') from None
    return json_response(await asyncio.to_thread(request.app[READS].sql, query.sql))


async def healthz(request: web.Request) -> web.Response:
    position = await asyncio.to_thread(request.app[READS].position)
    problems = request.app[HEALTH]() if HEALTH in request.app else []
    if problems:
        body = {"status": "failing", "projected_seq": position, "problems": problems}
        return json_response(body, status=503)
    return json_response({"status": "ok", "projected_seq": position})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/tx", submit_tx)
    app.router.add_post("/v1/txs", submit_txs)
    app.router.add_get("/v1/tx/{txid}", get_tx)
    app.router.add_get("/v1/wallets/{address}", get_wallet)
    app.router.add_get("/v1/chain", get_chain)
    app.router.add_post("/v1/sql", post_sql)
    app.router.add_get("/healthz", healthz)
