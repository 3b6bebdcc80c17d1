"""The check stage's own process: INTAKE read and checked ahead of the sequencer.

The sequencer is the ledger's one serial stage, and checking (a signature, strict
decoding) costs about as much per transaction as deciding and recording. With one batch
checked per request, the two stages took turns waiting for each other whenever one was
slower for a moment (they share two cores with nats-server and the projector). Here a
worker thread keeps up to ``READ_AHEAD`` checked batches ready past the last one asked
for, so the sequencer waits only when checking is slower on average; the main thread
answers the sequencer's requests from that buffer.

The sequencer asks for consecutive positions, except when it fitted only a prefix of a
batch into its write (the rest of that batch is then answered from what was checked), or
when it had to reload: a request for any other position drops what was read ahead and
starts over there.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from streams.check_stage import check_now
from streams.check_wire import encode_checked
from streams.envelope import OpenedTx
from streams.gc_tuning import settle_gc
from streams.intake import IntakeMessage, IntakeSource, Refusal

log = logging.getLogger(__name__)

READ_AHEAD = 3  # batches
RETRY_WAIT_S = 0.05  # how long one read waits for INTAKE to have something

Answer = tuple[str, Any]  # ("ok", (msgpack batch, last INTAKE seq or 0)) | ("error", text)
Key = tuple[int, int]  # (start_seq, limit)


@dataclass(frozen=True, slots=True)
class Batch:
    """A checked batch as the child keeps it: what it sends, and what it was made of."""

    key: Key
    answer: Answer
    messages: list[IntakeMessage] = field(default_factory=list)
    checked: list[OpenedTx | Refusal] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.answer[0] == "ok" and not self.messages

    def tail(self, start_seq: int) -> Batch | None:
        """The part from ``start_seq`` on, if this batch holds ``start_seq`` after its first
        message: what a sequencer asks for after fitting only a prefix into its write."""
        if not self.messages or not self.messages[0].seq < start_seq <= self.messages[-1].seq:
            return None
        at = next(i for i, m in enumerate(self.messages) if m.seq == start_seq)
        messages, checked = self.messages[at:], self.checked[at:]
        return Batch(
            (start_seq, self.key[1]),
            ("ok", (encode_checked(messages, checked), messages[-1].seq)),
            messages,
            checked,
        )


def check_batch(
    source: IntakeSource,
    chain_id: str,
    pool: ThreadPoolExecutor,
    start_seq: int,
    limit: int,
    timeout: float,
) -> Batch:
    key = (start_seq, limit)
    try:
        messages = source.fetch(start_seq, limit, timeout)
        checked = check_now(messages, chain_id, pool)
        last = messages[-1].seq if messages else 0
        return Batch(key, ("ok", (encode_checked(messages, checked), last)), messages, checked)
    except Exception as error:  # reported to the sequencer, which resyncs
        return Batch(key, ("error", f"{type(error).__name__}: {error}"))


class ReadAhead:
    """Checked batches past the last answer, made by a worker thread, handed out in order."""

    def __init__(
        self,
        source: IntakeSource,
        chain_id: str,
        pool: ThreadPoolExecutor,
        depth: int = READ_AHEAD,
    ) -> None:
        assert depth >= 1
        self.source = source
        self.chain_id = chain_id
        self.pool = pool
        self.depth = depth
        self.cond = threading.Condition()
        self.ready: deque[Batch] = deque()
        self.served: Batch | None = None  # the last batch answered
        self.next: Key | None = None  # the batch the worker checks next; None: nothing planned
        self.generation = 0  # bumped when the plan changes: older results are dropped
        self.closed = False
        self.failed: BaseException | None = None  # the worker died (never expected)
        self.worker = threading.Thread(target=self._run, name="hiveledger-read-ahead", daemon=True)
        self.worker.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as error:
            log.exception("check read-ahead worker stopped")
            with self.cond:
                self.failed = error
                self.cond.notify_all()

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.closed and (self.next is None or len(self.ready) >= self.depth):
                    self.cond.wait()
                if self.closed:
                    return
                key, generation = self.next, self.generation
            assert key is not None
            started = time.monotonic()
            batch = check_batch(self.source, self.chain_id, self.pool, *key, RETRY_WAIT_S)
            if batch.empty:  # nothing there yet: read again, but not in a spin
                time.sleep(max(0.0, started + RETRY_WAIT_S - time.monotonic()))
                continue
            with self.cond:
                if generation != self.generation:
                    continue  # the sequencer went elsewhere meanwhile
                self.ready.append(batch)
                ok = batch.answer[0] == "ok"
                self.next = (batch.messages[-1].seq + 1, key[1]) if ok else None
                self.cond.notify_all()

    def answer(self, start_seq: int, limit: int, timeout: float) -> Answer:
        """The checked batch at ``start_seq``; empty if INTAKE has nothing within ``timeout``."""
        key = (start_seq, limit)
        deadline = time.monotonic() + timeout
        with self.cond:
            if self.failed is not None:
                raise RuntimeError("the check read-ahead worker stopped") from self.failed
            tail = self.served.tail(start_seq) if self.served is not None else None
            if tail is not None and tail.key[1] == limit:
                self.served = tail  # the plan after it still holds
                return tail.answer
            planned = self.ready[0].key == key if self.ready else self.next == key
            if not planned:
                self.ready.clear()
                self.next = key
                self.generation += 1
                self.cond.notify_all()
            while not (self.ready and self.ready[0].key == key):
                left = deadline - time.monotonic()
                if left <= 0 or self.failed is not None:
                    return "ok", (encode_checked([], []), 0)
                self.cond.wait(left)
            batch = self.ready.popleft()
            self.served = batch
            if batch.answer[0] != "ok":
                self.next = None  # asked again after an error: starts over then
            self.cond.notify_all()  # room for one more
            return batch.answer

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.worker.join(5)


def child_main(conn: Connection, nats_url: str, stream: str, chain_id: str) -> None:
    """Answer (start_seq, limit, timeout) requests until None or the pipe closes (or the
    read-ahead fails: the pipe closes with this process, and the sequencer starts another)."""
    from streams.intake_reader import IntakeReader

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by its pipe, as the sequencer is
    source = IntakeReader(nats_url, stream=stream)
    # PyNaCl lets go of the interpreter lock while it verifies: on two threads, the two
    # halves of a batch verify side by side whenever a core is free.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hiveledger-verify")
    ahead = ReadAhead(source, chain_id, pool)
    settle_gc("check stage")
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            conn.send(ahead.answer(*request))
    finally:
        ahead.close()
        pool.shutdown(wait=False)
        source.close()
