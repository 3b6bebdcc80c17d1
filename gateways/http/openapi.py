"""The OpenAPI 3.1 document, its schemas generated from the msgspec wire types."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.errors import ErrorCode
from gateways.http.errors import ErrorBody
from gateways.http.openapi_market import market_paths
from streams import wire
from streams.envelope import Envelope


def _error_ref() -> dict[str, Any]:
    return {
        "description": "Refused: a stable `code` (see the ErrorCode enum) and a human `message`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OBJ: dict[str, Any] = {"type": "object"}


def document(server_url: str = "http://127.0.0.1:8545") -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [Envelope, ErrorBody, wire.TxBody], ref_template="#/components/schemas/{name}"
    )
    components["ErrorCode"] = {
        "type": "string",
        "enum": [c.code for c in ErrorCode],
        "description": "; ".join(f"{c.code} ({c.number}): {c.description}" for c in ErrorCode),
    }
    err = _error_ref()
    txid = {
        "name": "txid",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }
    timeout = {
        "name": "timeout",
        "in": "query",
        "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
        "description": "seconds to wait with wait=1 (default 10)",
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "hiveledger",
            "version": "1",
            "description": "Signed transactions in, event-sourced ledger out. Bodies are "
            "DSSE envelopes (see docs/PROTOCOL.md); amounts are integers in units (10^-9 token).",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/v1/tx": {
                "post": {
                    "summary": "Submit a signed transaction envelope",
                    "parameters": [
                        {
                            "name": "wait",
                            "in": "query",
                            "schema": {"enum": ["0", "1"]},
                            "description": "1: answer with the outcome, "
                            "not just the acceptance into intake",
                        },
                        timeout,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Envelope"}
                            }
                        },
                    },
                    "responses": {
                        "202": _json(OBJ, "Taken into intake: {txid, status: pending|duplicate}"),
                        "200": _json(OBJ, "Decided (wait=1): the transaction record"),
                        "400": err,
                        "413": err,
                        "503": err,
                        "504": err,
                    },
                }
            },
            "/v1/txs": {
                "post": {
                    "summary": "Submit many signed envelopes at once (up to 1000)",
                    "description": "NDJSON: one envelope per line, each line the envelope's "
                    "bytes as signed. Every envelope is checked first; the first that fails "
                    "refuses the whole request (its index is in the message) and nothing is "
                    "published. Otherwise all are taken into INTAKE as atomic batches (one "
                    "disk sync per batch). A txid repeated in the request is taken once; "
                    "one the ledger has already decided is not taken again (duplicate).",
                    "requestBody": {
                        "required": True,
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    "responses": {
                        "202": _json(
                            OBJ,
                            "Taken into intake: {results: [{txid, status}]}, "
                            "in request order; status pending|duplicate",
                        ),
                        "400": err,
                        "413": err,
                        "503": err,
                    },
                }
            },
            "/v1/tx/{txid}": {
                "get": {
                    "summary": "What became of a transaction",
                    "parameters": [
                        txid,
                        {
                            "name": "wait",
                            "in": "query",
                            "schema": {"enum": ["0", "1"]},
                            "description": "1: wait for the decision if it is not projected "
                            "yet (however the transaction was submitted)",
                        },
                        timeout,
                    ],
                    "responses": {
                        "200": _json(OBJ, "The transaction record"),
                        "404": err,
                        "400": err,
                        "504": err,
                    },
                }
            },
            "/v1/wallets/{address}": {
                "get": {
                    "summary": "Balance and nonce of an address",
                    "parameters": [
                        {
                            "name": "address",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json(OBJ, "{address, balance, nonce, next_nonce, exists}"),
                        "400": err,
                    },
                }
            },
            "/v1/chain": {
                "get": {
                    "summary": "Chain id, treasury and supply",
                    "responses": {"200": _json(OBJ), "503": err},
                }
            },
            "/v1/sql": {
                "post": {
                    "summary": "Read-only SQL over the DuckDB projections",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["sql"],
                                    "properties": {"sql": {"type": "string"}},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(OBJ, "{columns, rows, truncated}"),
                        "400": err,
                        "408": err,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and projected position",
                    "responses": {"200": _json(OBJ)},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition format"}},
                }
            },
        },
        "components": {"schemas": components},
    }
    doc["paths"].update(market_paths(components))
    return doc
