"""OpenAPI paths of the marketplace's REST routes and of the JSON-RPC endpoint.

The parameters' schemas come from the same msgspec structs that check them, and the
JSON-RPC methods are listed from the same table that dispatches them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateways.http.market_params import FraudQuery, Params, TaskQuery
from gateways.http.rpc import MAX_BATCH
from gateways.http.rpc_methods import METHODS

REF = "#/components/schemas/{name}"
OBJ: dict[str, Any] = {"type": "object"}


def _ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": OBJ}}}


def _err() -> dict[str, Any]:
    return {
        "description": "Refused: a stable `code` (see the ErrorCode enum) and a human `message`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_params(kind: type[Params], components: dict[str, Any]) -> list[dict[str, Any]]:
    """One query parameter per field of ``kind``, with the field's schema."""
    schema = components[kind.__name__]
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _get(summary: str, result: str, parameters: list[dict[str, Any]],
         not_found: bool = False) -> dict[str, Any]:  # fmt: skip
    responses = {"200": _ok(result), "400": _err(), "503": _err()}
    if not_found:
        responses["404"] = _err()
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


def _rpc_description() -> str:
    lines = [
        "JSON-RPC 2.0 (docs/MARKET_API.md). A request object, or a batch: an array of at "
        f"most {MAX_BATCH}, answered in order without the notifications (HTTP 204 when "
        "nothing is left to answer). Errors: -32700 parse error, -32600 invalid request, "
        "-32601 method not found, -32602 invalid params, -32603 internal error, and the "
        "project's numbers (see ErrorCode) with `data.code` the stable string code; a "
        "rejected transaction adds `data.txid` and `data.reason`. Writes take "
        '`{"envelope": <DSSE envelope, object or string>, "wait": true, "timeout": 10}`.',
        "",
        "Methods (params schema: `RpcParams_<method>`):",
    ]
    lines += [f"- `{name}`: {method.summary}" for name, method in METHODS.items()]
    return "\n".join(lines)


def _rpc_schemas(components: dict[str, Any]) -> dict[str, Any]:
    envelope = {"oneOf": [{"$ref": REF.format(name="Envelope")}, {"type": "string"}]}
    schemas: dict[str, Any] = {}
    for name, method in METHODS.items():
        schema = dict(components[method.params.__name__])
        if "envelope" in schema.get("properties", {}):
            schema["properties"] = {**schema["properties"], "envelope": envelope}
        schemas[f"RpcParams_{name}"] = schema
    schemas["RpcRequest"] = {
        "type": "object",
        "required": ["jsonrpc", "method"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "method": {"enum": list(METHODS)},
            "params": {"type": ["object", "array"]},
            "id": {"type": ["string", "number", "null"], "description": "absent: notification"},
        },
    }
    schemas["RpcResponse"] = {
        "type": "object",
        "required": ["jsonrpc", "id"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": {"type": ["string", "number", "null"]},
            "result": {},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "data": {
                        "type": "object",
                        "properties": {
                            "code": {"$ref": REF.format(name="ErrorCode")},
                            "txid": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
    }
    return schemas


def _rpc_path() -> dict[str, Any]:
    def one_or_batch(name: str) -> dict[str, Any]:
        ref = {"$ref": REF.format(name=name)}
        return {"oneOf": [ref, {"type": "array", "items": ref}]}

    return {
        "post": {
            "summary": "JSON-RPC 2.0: seed 000's ai_* methods",
            "description": _rpc_description(),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": one_or_batch("RpcRequest")}},
            },
            "responses": {
                "200": {
                    "description": "A response object, or an array of them for a batch",
                    "content": {"application/json": {"schema": one_or_batch("RpcResponse")}},
                },
                "204": {"description": "Only notifications: nothing to answer"},
            },
        }
    }


def market_paths(components: dict[str, Any]) -> dict[str, Any]:
    """The marketplace's paths; adds the schemas they refer to into ``components``."""
    kinds = [TaskQuery, FraudQuery, *(m.params for m in METHODS.values())]
    _, extra = msgspec.json.schema_components(kinds, ref_template=REF)
    components.update(extra)
    components.update(_rpc_schemas(components))
    task_id = _path_param("task_id", r"^[0-9a-f]{64}$")
    address = _path_param("address")
    limit = [p for p in _query_params(TaskQuery, components) if p["name"] == "limit"]
    return {
        "/v1/tasks": _get(
            "Tasks (seed 000's TaskSummary), soonest deadline first; status open unless told",
            "{tasks: [TaskSummary]} (deadline in unix seconds)",
            _query_params(TaskQuery, components),
        ),
        "/v1/tasks/{task_id}": _get(
            "One task (seed 000's TaskDetails) with participants and submissions",
            "TaskDetails (deadline in unix seconds)",
            [task_id],
            not_found=True,
        ),
        "/v1/miners/{address}": _get(
            "Seed 000's MinerStats", "MinerStats", [address], not_found=True
        ),
        "/v1/validators/{address}": _get(
            "A validator's stake, reputation and voting record",
            "{address, stake, reputation, votes, agreed, outliers, registered_at}",
            [address],
            not_found=True,
        ),
        "/v1/fraud": _get(
            "Fraud alerts, newest first",
            "{alerts: [...]}",
            _query_params(FraudQuery, components),
        ),
        "/v1/network": _get(
            "Seed 000's NetworkStatus",
            "{active_tasks, active_miners, total_rewards_distributed, network_hash_rate, "
            "validated_per_hour}",
            [],
        ),
        "/v1/addresses/{address}/tasks": _get(
            "Tasks the address published or joined, any status",
            "{tasks: [TaskSummary]}",
            [address, *limit],
        ),
        "/rpc": _rpc_path(),
    }
