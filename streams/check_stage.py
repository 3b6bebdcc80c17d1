"""The check stage: INTAKE fetched and checked (size, signature, strict decoding) in
batches, ahead of the sequencer (in its own process, up to three batches ahead:
streams/check_process.py).

Checking is pure and costs ~140 µs a transaction, most of it Python (decoding, address
checksums) around a ~45 µs signature check. On a thread next to the sequencer it takes
the interpreter lock from the very thread that decides and records, and the two run
slower together than one after the other. ``ProcessFeed`` moves the whole stage, the
INTAKE reads included, into a process of its own; ``InProcessFeed`` keeps it in the
sequencer's process (tests, tools), on a thread pool or inline.

A feed answers one request at a time: ``ask(start_seq, ...)`` then ``take()``. INTAKE
never changes under a sequence number, so an answer stays true however late it is taken.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from streams.check_wire import decode_checked
from streams.envelope import OpenedTx
from streams.intake import IntakeMessage, IntakeSource, Refusal, check

log = logging.getLogger(__name__)

Checked = list[OpenedTx | Refusal]
ANSWER_GRACE_S = 30.0  # beyond the fetch's own timeout: its grace, and the check itself


class CheckStageError(ConnectionError):
    """INTAKE could not be read or checked now (a slow server, a lost check process). It
    says nothing about the ledger: the sequencer asks again and keeps its memory."""


class CheckedFeed(Protocol):
    def ask(self, start_seq: int, limit: int, timeout: float) -> None:
        """Start fetching and checking up to ``limit`` messages from ``start_seq``."""
        ...

    def take(self) -> tuple[list[IntakeMessage], Checked]:
        """The answer to the last ``ask``: messages in order and their checks."""
        ...

    def close(self) -> None: ...


def check_all(messages: list[IntakeMessage], chain_id: str) -> Checked:
    return [check(message, chain_id) for message in messages]


def submit_checks(
    pool: ThreadPoolExecutor, messages: list[IntakeMessage], chain_id: str
) -> list[Future[Checked]]:
    """Check ``messages`` on ``pool``'s threads, in two halves (in order when gathered)."""
    half = max(len(messages) // 2, 1)
    parts = [messages[:half], messages[half:]] if len(messages) > 1 else [messages]
    return [pool.submit(check_all, part, chain_id) for part in parts]


def check_now(
    messages: list[IntakeMessage], chain_id: str, pool: ThreadPoolExecutor | None = None
) -> Checked:
    """Check ``messages`` and wait: on the pool for a batch worth it, else right here."""
    if pool is None or len(messages) < 16:
        return check_all(messages, chain_id)
    return [item for future in submit_checks(pool, messages, chain_id) for item in future.result()]


class InProcessFeed:
    """Fetch now, check on ``pool``'s threads (two halves) or, without a pool, at ``take``."""

    def __init__(
        self, source: IntakeSource, chain_id: str, pool: ThreadPoolExecutor | None = None
    ) -> None:
        self.source = source
        self.chain_id = chain_id
        self.pool = pool
        self._asked: tuple[list[IntakeMessage], list[Future[Checked]]] | None = None

    def ask(self, start_seq: int, limit: int, timeout: float) -> None:
        self._asked = None
        try:
            messages = self.source.fetch(start_seq, limit, timeout)
        except Exception as error:  # a read of INTAKE, not of the ledger: see CheckStageError
            raise CheckStageError(f"INTAKE read failed: {type(error).__name__}: {error}") from error
        futures: list[Future[Checked]] = []
        if self.pool is not None and messages:
            futures = submit_checks(self.pool, messages, self.chain_id)
        self._asked = (messages, futures)

    def take(self) -> tuple[list[IntakeMessage], Checked]:
        assert self._asked is not None, "take() without ask()"
        (messages, futures), self._asked = self._asked, None
        if self.pool is None or not messages:
            return messages, check_all(messages, self.chain_id)
        return messages, [item for future in futures for item in future.result()]

    def close(self) -> None:
        self._asked = None


class ProcessFeed:
    """The check stage in a child process with its own INTAKE connection.

    Requests and answers travel over a pipe (answers as msgpack: streams/check_wire.py).
    A child that dies or stops answering is replaced at the next ``ask``; the ``take``
    that noticed raises ``CheckStageError``. The child ends by itself when the pipe closes.
    """

    def __init__(self, nats_url: str, chain_id: str, stream: str = "INTAKE") -> None:
        self.nats_url = nats_url
        self.chain_id = chain_id
        self.stream = stream
        self._context = mp.get_context("spawn")
        self._conn: Connection | None = None
        self._process: Any = None
        self._timeout = 0.0
        self._spawn()

    def _spawn(self) -> None:
        from streams.check_process import child_main  # it imports this module

        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=child_main, args=(child, self.nats_url, self.stream, self.chain_id),
            name="hiveledger-check", daemon=True,
        )  # fmt: skip
        process.start()
        child.close()
        self._conn, self._process = parent, process

    def ask(self, start_seq: int, limit: int, timeout: float) -> None:
        if self._conn is None or not self._process.is_alive():
            log.warning("check process gone; starting another")
            self._stop_child()
            try:
                self._spawn()
            except OSError as error:
                raise CheckStageError(f"could not start the check process: {error}") from None
        assert self._conn is not None
        self._timeout = timeout
        try:
            self._conn.send((start_seq, limit, timeout))
        except OSError as error:
            self._stop_child()
            raise CheckStageError(f"the check process is gone: {error}") from None

    def take(self) -> tuple[list[IntakeMessage], Checked]:
        conn = self._conn
        assert conn is not None
        try:
            if not conn.poll(self._timeout + ANSWER_GRACE_S):
                raise CheckStageError("the check process did not answer in time")
            status, payload = conn.recv()
        except (EOFError, OSError) as error:
            self._stop_child()
            raise CheckStageError(f"the check process is gone: {error}") from None
        except CheckStageError:
            self._stop_child()
            raise
        if status != "ok":
            raise CheckStageError(f"the check process failed: {payload}")
        return decode_checked(payload[0])

    def _stop_child(self) -> None:
        conn, process, self._conn = self._conn, self._process, None
        if conn is not None:
            conn.close()
        if process is not None and process.is_alive():
            process.terminate()
            process.join(5)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)  # asks the child to stop
            conn.close()  # and a child still sending an answer gets a broken pipe: it ends
        process, self._process = self._process, None
        if process is not None:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
