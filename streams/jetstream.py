"""Async helpers on a nats-py connection for the parts of JetStream nats-py 2.16 lacks.

Used by the persistence module, the sequencer and the projector:

- ``ensure_ledger_stream`` / ``ensure_intake_stream``: create or update the two streams
  through the raw API (``$JS.API.STREAM.CREATE.<name>``), because nats-py's
  ``StreamConfig`` has no ``allow_atomic``.
- ``publish_atomic_batch`` / ``send_atomic_batch``: all-or-nothing publish of up to 1000
  messages, or as many as the server's raised limit allows (``probe_batch_limit``)
  (server 2.12+, ADR-50), waited on or pipelined (streams/atomic_batch.py, re-exported
  here).
- ``direct_get_batch``, ``direct_get_last``, ``multi_last``, ``iter_stream``: reads
  through batch Direct Get (server 2.11+, ADR-31), many messages per request;
  ``take_pending`` drains a push subscription; ``install_fast_header_parser`` makes
  nats-py's header parsing 3x faster (streams/jetstream_reads.py, re-exported here).

Server refusals become typed errors carrying the server's ``err_code``
(streams/jetstream_errors.py, re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS

from streams.atomic_batch import (
    LARGE_BATCH_MESSAGES,
    MAX_BATCH_MESSAGES,
    AckInbox,
    BatchMessage,
    await_ack,
    limit_in_refusal,
    probe_batch_limit,
    publish_atomic_batch,
    send_atomic_batch,
)
from streams.jetstream_errors import (
    ERR_BATCH_SAME_SUBJECT_EXPECTED,
    ERR_BATCH_TOO_LARGE,
    ERR_BATCH_UNSUPPORTED_HEADER,
    ERR_DUPLICATE_MSG_ID,
    ERR_STREAM_NAME_IN_USE,
    ERR_STREAM_NOT_FOUND,
    ERR_WRONG_LAST_SEQUENCE,
    BatchOutcomeUnknownError,
    BatchRefusedError,
    JetStreamApiError,
    JetStreamError,
    JetStreamTimeoutError,
)
from streams.jetstream_reads import (
    API,
    MAX_DIRECT_BATCH,
    DirectBatch,
    StoredMsg,
    _parse_header_lines,
    direct_get,
    direct_get_batch,
    direct_get_last,
    install_fast_header_parser,
    iter_stream,
    multi_last,
    take_pending,
)

__all__ = [
    "API",
    "ERR_BATCH_SAME_SUBJECT_EXPECTED",
    "ERR_BATCH_TOO_LARGE",
    "ERR_BATCH_UNSUPPORTED_HEADER",
    "ERR_DUPLICATE_MSG_ID",
    "ERR_STREAM_NAME_IN_USE",
    "ERR_STREAM_NOT_FOUND",
    "ERR_WRONG_LAST_SEQUENCE",
    "LARGE_BATCH_MESSAGES",
    "MAX_BATCH_MESSAGES",
    "MAX_DIRECT_BATCH",
    "AckInbox",
    "BatchMessage",
    "BatchOutcomeUnknownError",
    "BatchRefusedError",
    "DirectBatch",
    "JetStreamApiError",
    "JetStreamError",
    "JetStreamTimeoutError",
    "StoredMsg",
    "_parse_header_lines",
    "api_request",
    "await_ack",
    "delete_stream",
    "direct_get",
    "direct_get_batch",
    "direct_get_last",
    "ensure_intake_stream",
    "ensure_ledger_stream",
    "ensure_stream",
    "install_fast_header_parser",
    "iter_stream",
    "limit_in_refusal",
    "multi_last",
    "probe_batch_limit",
    "publish_atomic_batch",
    "send_atomic_batch",
    "stream_info",
    "take_pending",
]

NS_PER_S = 1_000_000_000


# ---------------------------------------------------------------- API requests and streams


async def api_request(
    nc: NATS, subject: str, payload: Mapping[str, Any] | None, timeout: float
) -> dict[str, Any]:
    """Send one JSON request to the JetStream API; raise ``JetStreamApiError`` on refusal."""
    body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
    try:
        reply = await nc.request(subject, body, timeout=timeout)
    except nats.errors.NoRespondersError:
        raise JetStreamApiError(f"no responders on {subject}: JetStream off?", code=503) from None
    except nats.errors.TimeoutError:
        raise JetStreamTimeoutError(f"no reply on {subject} within {timeout}s", code=408) from None
    resp: dict[str, Any] = json.loads(reply.data)
    if "error" in resp:
        raise JetStreamApiError.from_error(resp["error"])
    return resp


async def stream_info(nc: NATS, name: str, timeout: float = 10.0) -> dict[str, Any] | None:
    """The stream's info (``config``, ``state``), or None if it does not exist."""
    try:
        return await api_request(nc, f"{API}.STREAM.INFO.{name}", None, timeout)
    except JetStreamApiError as err:
        if err.err_code == ERR_STREAM_NOT_FOUND:
            return None
        raise


async def delete_stream(nc: NATS, name: str, timeout: float = 10.0) -> bool:
    """Delete a whole stream (tests, tools). False if it did not exist."""
    try:
        await api_request(nc, f"{API}.STREAM.DELETE.{name}", None, timeout)
    except JetStreamApiError as err:
        if err.err_code == ERR_STREAM_NOT_FOUND:
            return False
        raise
    return True


async def ensure_stream(nc: NATS, config: Mapping[str, Any], timeout: float = 10.0) -> dict:
    """Create the stream, or update it so that it has every key of ``config``.

    On update, keys of the existing configuration that ``config`` does not name (sources,
    placement, ...) are kept.
    """
    name = config["name"]
    try:
        return await api_request(nc, f"{API}.STREAM.CREATE.{name}", config, timeout)
    except JetStreamApiError as err:
        if err.err_code != ERR_STREAM_NAME_IN_USE:
            raise
    info = await stream_info(nc, name, timeout)
    current = dict(info["config"]) if info else {}
    current.update(config)
    return await api_request(nc, f"{API}.STREAM.UPDATE.{name}", current, timeout)


async def ensure_ledger_stream(
    nc: NATS,
    name: str = "LEDGER",
    subjects_prefix: str = "hive.ledger",
    *,
    replicas: int = 1,
    extra: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The trusted LEDGER stream: file storage, atomic batches, direct get, no deletes."""
    config: dict[str, Any] = {
        "name": name,
        "subjects": [f"{subjects_prefix}.>"],
        "storage": "file",
        "retention": "limits",
        "num_replicas": replicas,
        "allow_atomic": True,
        "allow_direct": True,
        "deny_delete": True,
        "deny_purge": True,
        "allow_rollup_hdrs": False,
    }
    config.update(extra or {})
    return await ensure_stream(nc, config, timeout)


async def ensure_intake_stream(
    nc: NATS,
    name: str = "INTAKE",
    subjects_prefix: str = "hive.intake",
    duplicate_window_s: float = 120,
    max_msg_size: int = 65536,
    *,
    replicas: int = 1,
    extra: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The untrusted INTAKE stream: file storage, direct get, dedup by ``Nats-Msg-Id``."""
    config: dict[str, Any] = {
        "name": name,
        "subjects": [f"{subjects_prefix}.>"],
        "storage": "file",
        "retention": "limits",
        "num_replicas": replicas,
        "allow_direct": True,
        "allow_atomic": True,  # bulk clients publish atomic batches (intake_bulk.py)
        "duplicate_window": int(duplicate_window_s * NS_PER_S),
        "max_msg_size": max_msg_size,
    }
    config.update(extra or {})
    return await ensure_stream(nc, config, timeout)
