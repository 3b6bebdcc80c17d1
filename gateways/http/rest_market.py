"""The marketplace under /v1: the same operations as JSON-RPC, as GET routes.

Writes have no route of their own: a signed envelope of any kind goes to POST /v1/tx.
Query parameters are checked as strictly as JSON-RPC's params: an unknown one, or a value
of the wrong type, is a 400 bad_request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from domain.errors import ErrorCode, LedgerError
from gateways.http import market_api as api
from gateways.http.market_api import GATEWAY
from gateways.http.market_params import (
    AddressParams,
    FraudQuery,
    MinerParams,
    MyTasksParams,
    NoParams,
    Params,
    TaskIdParams,
    TaskQuery,
    describe,
)
from gateways.http.rest import json_response

P = TypeVar("P", bound=Params)


def params_of(request: web.Request, kind: type[P], **path: str) -> P:
    """The query string and path parameters as ``kind``; 400 bad_request if they do not fit."""
    values: dict[str, Any] = dict(request.query)
    repeated = [k for k in values if len(request.query.getall(k)) > 1]
    if repeated:
        raise LedgerError(ErrorCode.BAD_REQUEST, f"query parameter {repeated[0]!r} repeated")
    values.update(path)
    try:
        return msgspec.convert(values, type=kind, strict=False)
    except msgspec.ValidationError as error:
        raise LedgerError(ErrorCode.BAD_REQUEST, describe(error)) from None


Route = Callable[[web.Request], Awaitable[web.Response]]


def route(
    kind: type[P],
    operation: Callable[[api.Gateway, P], Awaitable[Any]],
    **path_names: str,
) -> Route:
    """A GET handler: path parameters (route name -> params field) and query -> ``kind``."""

    async def handler(request: web.Request) -> web.Response:
        path = {field: request.match_info[name] for name, field in path_names.items()}
        params = params_of(request, kind, **path)
        return json_response(await operation(request.app[GATEWAY], params))

    return handler


def add_routes(app: web.Application) -> None:
    get = app.router.add_get
    get("/v1/tasks", route(TaskQuery, api.list_tasks))
    get("/v1/tasks/{task_id}", route(TaskIdParams, api.task_details, task_id="task_id"))
    get("/v1/miners/{address}", route(MinerParams, api.miner_stats, address="miner_address"))
    get("/v1/validators/{address}", route(AddressParams, api.validator_info, address="address"))
    get("/v1/fraud", route(FraudQuery, api.fraud_alerts))
    get("/v1/network", route(NoParams, api.network_status))
    get("/v1/addresses/{address}/tasks", route(MyTasksParams, api.my_tasks, address="address"))
