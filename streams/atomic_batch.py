"""JetStream atomic batch publish (server 2.12+, ADR-50), waited on or pipelined.

A batch is up to 1000 messages (the server's default ``limits.batch.max_msgs``; more where
it is raised: ``probe_batch_limit``) with headers ``Nats-Batch-Id``,
``Nats-Batch-Sequence`` and, on the last message, ``Nats-Batch-Commit: 1``; the server
stores all of it or none.
Only the commit message asks for a reply, so a batch costs one round trip.

- ``publish_atomic_batch`` sends a batch and waits for its ack (an inbox of its own).
- ``send_atomic_batch`` sends a batch, commit included, in ONE write to the connection
  and returns a future of the ack at once: the caller may send the next batch before
  this one is acknowledged. Acks arrive on an ``AckInbox``, one wildcard subscription
  shared by every batch in flight. The server handles one connection's messages in
  order, so batches sent one after another are stored (or refused) in that order.

Expectation headers (``Nats-Expected-Last-Sequence`` on the first message only,
``Nats-Expected-Last-Subject-Sequence`` on the first message per subject) are checked
at commit time against the stream as it was before the batch. Never put ``Nats-Msg-Id``
in a batch: the server refuses it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from streams.jetstream_errors import (
    ERR_BATCH_TOO_LARGE,
    ERR_WRONG_LAST_SEQUENCE,
    BatchOutcomeUnknownError,
    BatchRefusedError,
)

MAX_BATCH_MESSAGES = 1000  # server default limit per atomic batch (ADR-50)
# The limit the embedded server is given, and what the sequencer asks a server for: each
# LEDGER batch costs nats-server ~7.5 ms of CPU whatever its size (docs/DECISIONS.md).
LARGE_BATCH_MESSAGES = 4000
PROBE_EXPECTED_SEQ = str(2**62)  # a last subject sequence no stream reaches
_TOO_LARGE = re.compile(r"too large: (\d+)")
NO_RESPONDERS = "503"
_SUBJECT = re.compile(r"[^\s*>]+")  # a concrete subject: no whitespace, no wildcards
_HEADER_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

Headers = Mapping[str, str]
BatchMessage = tuple[str, bytes, Headers | None]
Ack = dict[str, Any]


async def publish_atomic_batch(
    nc: NATS, messages: Sequence[BatchMessage], timeout: float, limit: int = MAX_BATCH_MESSAGES
) -> Ack:
    """Publish ``messages`` (subject, data, headers) as one all-or-nothing batch and wait.

    Returns the server's ack (``{"stream", "seq", "batch", "count"}``; ``seq`` is the last
    message's sequence, the others precede it). A batch of one message is sent as a plain
    publish with the same headers: the same checks, no ``batch``/``count`` in the ack.

    Raises ``BatchRefusedError`` (nothing stored; see ``err_code``) or
    ``BatchOutcomeUnknownError`` (no ack in time: the batch may or may not be stored).
    ``limit``: as for ``send_atomic_batch``.
    """
    _check_count(messages, limit)  # before anything goes out, the inbox's subscription included
    inbox = AckInbox(nc)
    await inbox.start()
    try:
        future = await send_atomic_batch(nc, inbox, messages, limit)
        return await await_ack(future, timeout, f"batch of {len(messages)}")
    finally:
        await inbox.close()


class AckInbox:
    """Replies to pipelined publishes: one subscription on ``<inbox>.*``, one future each."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self.prefix = nc.new_inbox()
        self._waiting: dict[str, asyncio.Future[Ack]] = {}
        self._sub: Any = None
        self._next = 0

    async def start(self) -> None:
        if self._sub is None:
            self._sub = await self.nc.subscribe(f"{self.prefix}.*", cb=self._on_reply)

    def expect(self) -> tuple[str, asyncio.Future[Ack]]:
        """A fresh reply subject and the future its reply will resolve."""
        assert self._sub is not None, "AckInbox.start() first"
        self._next += 1
        token = str(self._next)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        future.add_done_callback(lambda _: self._waiting.pop(token, None))
        return f"{self.prefix}.{token}", future

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject.rsplit(".", 1)[-1], None)
        if future is None or future.done():
            return  # a reply after its deadline: nobody is waiting any more
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            future.set_exception(BatchRefusedError(f"no stream listens ({msg.subject})", code=503))
            return
        ack: Ack = json.loads(msg.data)
        if "error" in ack:
            future.set_exception(BatchRefusedError.from_error(ack["error"]))
        else:
            future.set_result(ack)

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self.nc.is_closed:
            await sub.unsubscribe()
        for future in self._waiting.values():
            future.cancel()


async def send_atomic_batch(
    nc: NATS, inbox: AckInbox, messages: Sequence[BatchMessage], limit: int = MAX_BATCH_MESSAGES
) -> asyncio.Future[Ack]:
    """Send ``messages`` as one atomic batch in one write; return the future of its ack
    (resolved with the ack dict, or failed with ``BatchRefusedError``). The caller bounds
    the wait: see ``await_ack``. ``limit``: the server's batch limit, if known to be raised
    (``probe_batch_limit``)."""
    _check_count(messages, limit)
    reply, future = inbox.expect()
    try:
        if len(messages) == 1:
            subject, data, headers = messages[0]
            commands = [_hpub(nc, subject, data, headers, None, reply)]
        else:
            batch_id, last = uuid.uuid4().hex, len(messages)
            commands = [
                _hpub(
                    nc, subject, data, headers, (batch_id, index, index == last),
                    reply if index == last else None,
                )
                for index, (subject, data, headers) in enumerate(messages, 1)
            ]  # fmt: skip
        await _send_raw(nc, commands)
    except BaseException:
        future.cancel()  # nothing will answer it
        raise
    return future


async def await_ack(future: asyncio.Future[Ack], timeout: float, what: str) -> Ack:
    """The ack of a sent batch, or ``BatchOutcomeUnknownError`` after ``timeout`` s."""
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        future.cancel()
        raise BatchOutcomeUnknownError(f"no ack for {what} within {timeout}s", code=408) from None


async def probe_batch_limit(nc: NATS, subject: str, wanted: int, timeout: float) -> int:
    """The largest atomic batch, up to ``wanted`` messages, that the server takes on the
    stream of ``subject``; stores nothing. Up to 1000, every server takes it: no probe.

    Sends one batch of ``wanted`` empty messages whose first expects ``subject`` to be at a
    sequence no stream reaches. The server counts a batch's messages as they come and
    checks expectations only at the commit: a batch within its limit is refused for the
    expectation, a larger one for its size, with the limit in the refusal's text
    (``limits.batch.max_msgs`` in the server's configuration; 1000 unless raised)."""
    if wanted <= MAX_BATCH_MESSAGES:
        return wanted
    headers = {"Nats-Expected-Last-Subject-Sequence": PROBE_EXPECTED_SEQ}
    messages: list[BatchMessage] = [(subject, b"", headers)]
    messages += [(subject, b"", None)] * (wanted - 1)
    try:
        await publish_atomic_batch(nc, messages, timeout, limit=wanted)
    except BatchRefusedError as refusal:
        if refusal.err_code == ERR_WRONG_LAST_SEQUENCE:
            return wanted
        if refusal.err_code == ERR_BATCH_TOO_LARGE:
            return min(limit_in_refusal(refusal) or MAX_BATCH_MESSAGES, wanted)
        raise
    raise AssertionError(f"a probe batch on {subject} was stored")  # pragma: no cover


def limit_in_refusal(refusal: BatchRefusedError) -> int | None:
    """The server's batch limit, as a refusal for size (err_code 10199) states it."""
    found = _TOO_LARGE.search(refusal.description)
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None


def _check_count(messages: Sequence[BatchMessage], limit: int = MAX_BATCH_MESSAGES) -> None:
    if not messages:
        raise ValueError("an atomic batch needs at least one message")
    if len(messages) > limit:
        raise ValueError(f"{len(messages)} messages exceed the atomic batch limit {limit}")


def _hpub(
    nc: NATS,
    subject: str,
    data: bytes,
    headers: Headers | None,
    batch: tuple[str, int, bool] | None,
    reply: str | None = None,
) -> bytes:
    """One HPUB protocol command, built here: nats-py's own header encoding costs ~15 µs a
    message, a quarter of a 600-message batch's time. ``batch``: (id, index, commit)."""
    if not _SUBJECT.fullmatch(subject):
        raise ValueError(f"invalid subject {subject!r}")
    parts = ["NATS/1.0\r\n"]
    for key, value in (headers or {}).items():
        if "\r" in value or "\n" in value or not _header_key_ok(key):
            raise ValueError(f"header {key!r} cannot be sent as given")
        parts.append(f"{key}: {value}\r\n")
    if batch is not None:
        batch_id, index, commit = batch
        parts.append(f"Nats-Batch-Id: {batch_id}\r\nNats-Batch-Sequence: {index}\r\n")
        if commit:
            parts.append("Nats-Batch-Commit: 1\r\n")
    parts.append("\r\n")
    hdr = "".join(parts).encode()
    size = len(hdr) + len(data)
    if size > nc.max_payload:
        raise ValueError(f"message of {size} bytes on {subject} exceeds max_payload")
    target = f"{subject} {reply}" if reply else subject
    return b"".join((f"HPUB {target} {len(hdr)} {size}\r\n".encode(), hdr, data, b"\r\n"))


@functools.lru_cache(maxsize=256)
def _header_key_ok(key: str) -> bool:
    return _HEADER_KEY.fullmatch(key) is not None


async def _send_raw(nc: NATS, commands: list[bytes]) -> None:
    """Queue protocol commands on the connection as one write (nats-py internals, pinned
    to nats-py 2.x in pyproject): nothing else can come between them."""
    if nc.is_closed:
        raise nats.errors.ConnectionClosedError
    await nc._send_command(b"".join(commands))
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()  # what nats-py's publish does: wake the flusher
