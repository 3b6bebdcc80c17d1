"""JSON-RPC 2.0 at POST /rpc (https://www.jsonrpc.org/specification).

- A request is an object; a batch is a non-empty array of them (at most ``MAX_BATCH``),
  answered by an array in the same order, without the notifications. A request without
  ``id`` is a notification: it runs, and gets no response (HTTP 204 when nothing is left
  to answer).
- Errors are error objects: -32700 parse error, -32600 invalid request, -32601 method not
  found, -32602 invalid params, -32603 internal error; every refusal of the project's own
  carries its number from domain/errors.py (1001...). ``data.code`` is always a stable
  string code from ErrorCode (the four standard faults say ``bad_request``), and a rejected
  transaction adds ``txid`` and ``reason``.
- Parameters by name (an object), or by position (an array, in the documented order).
- A batch runs in order, one request after the other: two writes of one signer with
  consecutive nonces in one batch reach INTAKE in that order.
- Always HTTP 200 when there is a response, error objects included.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiohttp import web
from msgspec import UNSET, Raw, Struct, UnsetType

from domain.errors import ErrorCode, LedgerError
from gateways.http.market_api import GATEWAY, Gateway
from gateways.http.market_params import Params, describe
from gateways.http.rpc_methods import METHODS

log = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32603,
)
MAX_BATCH = 100
Id = str | int | float | None


class RpcRequest(Struct, frozen=True):
    jsonrpc: str
    method: str
    params: Raw | UnsetType = UNSET
    id: Id | UnsetType = UNSET


class RpcFault(Exception):
    def __init__(self, number: int, message: str, data: dict[str, Any]) -> None:
        super().__init__(message)
        self.number = number
        self.message = message
        self.data = data


def fault(number: int, message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> RpcFault:
    return RpcFault(number, message, {"code": code.code})


def from_ledger_error(error: LedgerError) -> RpcFault:
    data = {"code": error.code, **getattr(error, "data", {})}
    return RpcFault(error.error_code.number, error.reason, data)


def error_reply(id_: Id, error: RpcFault) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": id_,
        "error": {"code": error.number, "message": error.message, "data": error.data},
    }


def _loose_id(raw: Raw) -> Id:
    """The id of a request that is not valid, when it can be read; else null."""
    try:
        value = msgspec.json.decode(bytes(raw))
    except msgspec.DecodeError:
        return None
    found = value.get("id") if isinstance(value, dict) else None
    if isinstance(found, str | int | float) and not isinstance(found, bool):
        return found
    return None


# -- parameters ----------------------------------------------------------------------


def decode_params(raw: Raw | UnsetType, kind: type[Params]) -> Params:
    """Named (object) or positional (array) parameters as the method's Params struct."""
    data = b"{}" if raw is UNSET else bytes(raw)
    if data[:1] == b"[":
        items = msgspec.json.decode(data, type=list[Raw])
        names = kind.__struct_fields__
        if len(items) > len(names):
            raise fault(INVALID_PARAMS, f"at most {len(names)} positional params: {names}")
        data = b"{%b}" % b",".join(
            msgspec.json.encode(n) + b":" + bytes(v) for n, v in zip(names, items, strict=False)
        )
    try:
        return msgspec.json.decode(data, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise fault(INVALID_PARAMS, f"invalid params: {describe(error)}") from None


# -- one request ---------------------------------------------------------------------


async def run_request(gw: Gateway, request: RpcRequest) -> Any:
    method = METHODS.get(request.method)
    if method is None:
        raise fault(METHOD_NOT_FOUND, f"no method {request.method!r}")
    params = decode_params(request.params, method.params)
    try:
        return await method.run(gw, params)
    except LedgerError as error:
        raise from_ledger_error(error) from None


def _parse_request(raw: Raw) -> RpcRequest:
    try:
        request = msgspec.json.decode(bytes(raw), type=RpcRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise fault(INVALID_REQUEST, f"invalid request: {describe(error)}") from None
    if request.jsonrpc != "2.0":
        raise fault(INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
    if request.params is not UNSET and bytes(request.params)[:1] not in (b"{", b"["):
        raise fault(INVALID_REQUEST, "invalid request: params must be an object or an array")
    return request


async def one(gw: Gateway, raw: Raw) -> dict[str, Any] | None:
    """The response to one request, or None for a notification."""
    try:
        request = _parse_request(raw)
    except RpcFault as error:
        return error_reply(_loose_id(raw), error)
    id_ = None if request.id is UNSET else request.id
    try:
        result = await run_request(gw, request)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "result": result}
    except RpcFault as error:
        reply = error_reply(id_, error)
    except Exception:
        log.exception("JSON-RPC method %s failed", request.method)
        reply = error_reply(
            id_, fault(INTERNAL_ERROR, "internal error; see the node's log", ErrorCode.UNAVAILABLE)
        )
    return None if request.id is UNSET else reply


# -- the endpoint --------------------------------------------------------------------


def _respond(payload: Any) -> web.Response:
    if payload is None:
        return web.Response(status=204)
    return web.Response(body=msgspec.json.encode(payload), content_type="application/json")


async def _read(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RpcFault(
            ErrorCode.BODY_TOO_LARGE.number,
            "request body too large",
            {"code": ErrorCode.BODY_TOO_LARGE.code},
        ) from None


def _parse_body(body: bytes) -> Raw:
    try:
        body.decode("utf-8")
        return msgspec.json.decode(body, type=Raw)
    except (UnicodeDecodeError, msgspec.DecodeError) as error:
        raise fault(PARSE_ERROR, f"parse error: {error}") from None


async def handle_rpc(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    try:
        top = _parse_body(await _read(request))
    except RpcFault as error:
        return _respond(error_reply(None, error))
    if bytes(top)[:1] != b"[":
        return _respond(await one(gw, top))
    items = msgspec.json.decode(bytes(top), type=list[Raw])
    if not items or len(items) > MAX_BATCH:
        size = "empty" if not items else f"{len(items)} requests; at most {MAX_BATCH}"
        return _respond(error_reply(None, fault(INVALID_REQUEST, f"invalid request: batch {size}")))
    replies = [reply for item in items if (reply := await one(gw, item)) is not None]
    return _respond(replies or None)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/rpc", handle_rpc)
