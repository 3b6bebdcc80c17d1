"""JSON errors with a stable code and a human message, for every failure path."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from domain.errors import ErrorCode, LedgerError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.WALLET_NOT_FOUND: 404,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.MINER_NOT_REGISTERED: 404,
    ErrorCode.NOT_VALIDATOR: 404,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.SQL_TIMEOUT: 408,
    ErrorCode.BODY_TOO_LARGE: 413,
}


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    number: int
    message: str


def error_response(code: ErrorCode, message: str, status: int | None = None) -> web.Response:
    body = ErrorBody(code=code.code, number=code.number, message=message)
    return web.Response(
        body=msgspec.json.encode(body),
        status=status or STATUS.get(code, 400),
        content_type="application/json",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LedgerError as error:
        return error_response(error.error_code, error.reason)
    except web.HTTPRequestEntityTooLarge:
        return error_response(ErrorCode.BODY_TOO_LARGE, "request body too large", 413)
    except web.HTTPNotFound:
        return error_response(ErrorCode.NOT_FOUND, f"no route for {request.path}", 404)
    except web.HTTPMethodNotAllowed as exc:
        return error_response(ErrorCode.BAD_REQUEST, f"method {exc.method} not allowed here", 405)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ErrorCode.UNAVAILABLE, "internal error; see the node's log", 500)
