"""Async helpers on a nats-py connection for the parts of JetStream nats-py 2.16 lacks.

Used by the persistence module, the sequencer and the projector:

- ``ensure_ledger_stream`` / ``ensure_intake_stream``: create or update the two streams
  through the raw API (``$JS.API.STREAM.CREATE.<name>``), because nats-py's
  ``StreamConfig`` has no ``allow_atomic``.
- ``publish_atomic_batch``: all-or-nothing publish of up to 1000 messages (server 2.12+,
  ADR-50): headers ``Nats-Batch-Id``, ``Nats-Batch-Sequence`` and, on the last message,
  ``Nats-Batch-Commit: 1``. Only the commit message waits for a reply: one round trip.
- ``direct_get_batch``, ``direct_get_last``, ``multi_last``, ``iter_stream``: reads
  through batch Direct Get (server 2.11+, ADR-31), many messages per request;
  ``take_pending`` drains a push subscription; ``install_fast_header_parser`` makes
  nats-py's header parsing 3x faster (streams/jetstream_reads.py, re-exported here).

Server refusals become typed errors carrying the server's ``err_code``
(streams/jetstream_errors.py, re-exported here).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS

from streams.jetstream_errors import (
    ERR_BATCH_SAME_SUBJECT_EXPECTED,
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
    "ERR_BATCH_UNSUPPORTED_HEADER",
    "ERR_DUPLICATE_MSG_ID",
    "ERR_STREAM_NAME_IN_USE",
    "ERR_STREAM_NOT_FOUND",
    "ERR_WRONG_LAST_SEQUENCE",
    "MAX_BATCH_MESSAGES",
    "MAX_DIRECT_BATCH",
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
    "delete_stream",
    "direct_get",
    "direct_get_batch",
    "direct_get_last",
    "ensure_intake_stream",
    "ensure_ledger_stream",
    "ensure_stream",
    "install_fast_header_parser",
    "iter_stream",
    "multi_last",
    "publish_atomic_batch",
    "stream_info",
    "take_pending",
]

MAX_BATCH_MESSAGES = 1000  # server default limit per atomic batch (ADR-50)
NS_PER_S = 1_000_000_000
_SUBJECT = re.compile(r"[^\s*>]+")  # a concrete subject: no whitespace, no wildcards
_HEADER_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

Headers = Mapping[str, str]
BatchMessage = tuple[str, bytes, Headers | None]


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


async def stream_info(nc: NATS, name: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The stream's info (``config``, ``state``), or None if it does not exist."""
    try:
        return await api_request(nc, f"{API}.STREAM.INFO.{name}", None, timeout)
    except JetStreamApiError as err:
        if err.err_code == ERR_STREAM_NOT_FOUND:
            return None
        raise


async def delete_stream(nc: NATS, name: str, timeout: float = 5.0) -> bool:
    """Delete a whole stream (tests, tools). False if it did not exist."""
    try:
        await api_request(nc, f"{API}.STREAM.DELETE.{name}", None, timeout)
    except JetStreamApiError as err:
        if err.err_code == ERR_STREAM_NOT_FOUND:
            return False
        raise
    return True


async def ensure_stream(nc: NATS, config: Mapping[str, Any], timeout: float = 5.0) -> dict:
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
    timeout: float = 5.0,
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
    timeout: float = 5.0,
) -> dict[str, Any]:
    """The untrusted INTAKE stream: file storage, direct get, dedup by ``Nats-Msg-Id``."""
    config: dict[str, Any] = {
        "name": name,
        "subjects": [f"{subjects_prefix}.>"],
        "storage": "file",
        "retention": "limits",
        "num_replicas": replicas,
        "allow_direct": True,
        "duplicate_window": int(duplicate_window_s * NS_PER_S),
        "max_msg_size": max_msg_size,
    }
    config.update(extra or {})
    return await ensure_stream(nc, config, timeout)


# ------------------------------------------------------------------------ atomic batches


async def publish_atomic_batch(
    nc: NATS, messages: Sequence[BatchMessage], timeout: float
) -> dict[str, Any]:
    """Publish ``messages`` (subject, data, headers) as one all-or-nothing batch.

    Messages go out without waiting; only the last (the commit) carries a reply inbox,
    so the whole batch costs one round trip. Returns the server's ack
    (``{"stream", "seq", "batch", "count"}``; ``seq`` is the last message's sequence,
    the others precede it). A batch of one message is sent as a plain publish with the
    same headers: the same checks, no ``batch``/``count`` in the ack, ~4 ms less.

    Expectation headers (``Nats-Expected-Last-Sequence`` on the first message only,
    ``Nats-Expected-Last-Subject-Sequence`` on the first message per subject) are
    checked by the server at commit time against the stream as it was before the batch.
    Never put ``Nats-Msg-Id`` in a batch: the server refuses it.

    Raises ``BatchRefusedError`` (nothing stored; see ``err_code``) or
    ``BatchOutcomeUnknownError`` (no ack in time: the batch may or may not be stored).
    """
    count = len(messages)
    if count == 0:
        raise ValueError("an atomic batch needs at least one message")
    if count > MAX_BATCH_MESSAGES:
        raise ValueError(f"{count} messages exceed the atomic batch limit {MAX_BATCH_MESSAGES}")
    if count == 1:  # one message is atomic anyway; the batch path costs ~4 ms more
        subject, data, headers = messages[0]
        return await _request_ack(nc, subject, data, dict(headers or {}), timeout, "message")
    batch_id = uuid.uuid4().hex
    commands = [
        _hpub(nc, subject, data, headers, batch_id, index)
        for index, (subject, data, headers) in enumerate(messages[:-1], 1)
    ]
    if commands:
        await _send_raw(nc, commands)
    subject, data, headers = messages[-1]
    hdrs = dict(headers) if headers else {}
    hdrs["Nats-Batch-Id"] = batch_id
    hdrs["Nats-Batch-Sequence"] = str(count)
    hdrs["Nats-Batch-Commit"] = "1"
    return await _request_ack(nc, subject, data, hdrs, timeout, f"batch {batch_id}")


async def _request_ack(
    nc: NATS, subject: str, data: bytes, headers: dict[str, str], timeout: float, what: str
) -> dict[str, Any]:
    try:
        reply = await nc.request(subject, data, timeout=timeout, headers=headers)
    except nats.errors.NoRespondersError:
        raise BatchRefusedError(f"no stream listens on {subject}", code=503) from None
    except nats.errors.TimeoutError:
        raise BatchOutcomeUnknownError(f"no ack for {what} within {timeout}s", code=408) from None
    ack: dict[str, Any] = json.loads(reply.data)
    if "error" in ack:
        raise BatchRefusedError.from_error(ack["error"])
    return ack


def _hpub(
    nc: NATS, subject: str, data: bytes, headers: Headers | None, batch_id: str, index: int
) -> bytes:
    """One HPUB protocol command (no reply), built here: nats-py's own header encoding
    costs ~15 µs a message, a quarter of a 600-message batch's time."""
    if not _SUBJECT.fullmatch(subject):
        raise ValueError(f"invalid subject {subject!r}")
    parts = ["NATS/1.0\r\n"]
    for key, value in (headers or {}).items():
        if "\r" in value or "\n" in value or not _header_key_ok(key):
            raise ValueError(f"header {key!r} cannot be sent as given")
        parts.append(f"{key}: {value}\r\n")
    parts.append(f"Nats-Batch-Id: {batch_id}\r\nNats-Batch-Sequence: {index}\r\n\r\n")
    hdr = "".join(parts).encode()
    size = len(hdr) + len(data)
    if size > nc.max_payload:
        raise ValueError(f"message of {size} bytes on {subject} exceeds max_payload")
    return b"".join((f"HPUB {subject} {len(hdr)} {size}\r\n".encode(), hdr, data, b"\r\n"))


@functools.lru_cache(maxsize=256)
def _header_key_ok(key: str) -> bool:
    return _HEADER_KEY.fullmatch(key) is not None


async def _send_raw(nc: NATS, commands: list[bytes]) -> None:
    """Queue protocol commands on the connection as one write (nats-py internals, pinned
    to nats-py 2.x in pyproject; the commit goes through the public ``request``)."""
    if nc.is_closed:
        raise nats.errors.ConnectionClosedError
    await nc._send_command(b"".join(commands))
