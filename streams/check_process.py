"""The check stage's own process: INTAKE read and checked ahead of the sequencer.

The sequencer is the ledger's one serial stage, and checking (a signature, strict
decoding) costs about as much per transaction as deciding and recording. With one batch
checked per request, the two stages took turns waiting for each other whenever one was
slower for a moment (they share two cores with nats-server and the projector). Here a
worker thread keeps up to ``READ_AHEAD`` checked batches ready past the last one asked
for, so the sequencer waits only when checking is slower on average; the main thread
answers the sequencer's requests from that buffer.

The sequencer asks for consecutive positions unless it had to reload; a request for any
other position drops what was read ahead and starts over there.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from streams.check_stage import check_now
from streams.check_wire import encode_checked
from streams.intake import IntakeSource

READ_AHEAD = 3  # batches
RETRY_WAIT_S = 0.05  # how long one read waits for INTAKE to have something

Answer = tuple[str, Any]  # ("ok", (msgpack batch, last INTAKE seq or 0)) | ("error", text)
Key = tuple[int, int]  # (start_seq, limit)


def answer_for(
    source: IntakeSource,
    chain_id: str,
    pool: ThreadPoolExecutor,
    start_seq: int,
    limit: int,
    timeout: float,
) -> Answer:
    try:
        messages = source.fetch(start_seq, limit, timeout)
        checked = check_now(messages, chain_id, pool)
        return "ok", (encode_checked(messages, checked), messages[-1].seq if messages else 0)
    except Exception as error:  # reported to the sequencer, which resyncs
        return "error", f"{type(error).__name__}: {error}"


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
        self.ready: deque[tuple[Key, Answer]] = deque()
        self.next: Key | None = None  # the batch the worker checks next; None: nothing planned
        self.generation = 0  # bumped when the plan changes: older results are dropped
        self.closed = False
        self.worker = threading.Thread(target=self._work, name="hiveledger-read-ahead", daemon=True)
        self.worker.start()

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
            answer = answer_for(self.source, self.chain_id, self.pool, *key, RETRY_WAIT_S)
            status, payload = answer
            if status == "ok" and not payload[1]:  # nothing there yet: read again, but
                time.sleep(max(0.0, started + RETRY_WAIT_S - time.monotonic()))  # not in a spin
                continue
            with self.cond:
                if generation != self.generation:
                    continue  # the sequencer went elsewhere meanwhile
                self.ready.append((key, answer))
                self.next = (payload[1] + 1, key[1]) if status == "ok" else None
                self.cond.notify_all()

    def answer(self, start_seq: int, limit: int, timeout: float) -> Answer:
        """The checked batch at ``start_seq``; empty if INTAKE has nothing within ``timeout``."""
        key = (start_seq, limit)
        deadline = time.monotonic() + timeout
        with self.cond:
            planned = self.ready[0][0] == key if self.ready else self.next == key
            if not planned:
                self.ready.clear()
                self.next = key
                self.generation += 1
                self.cond.notify_all()
            while not (self.ready and self.ready[0][0] == key):
                left = deadline - time.monotonic()
                if left <= 0:
                    return "ok", (encode_checked([], []), 0)
                self.cond.wait(left)
            _, answer = self.ready.popleft()
            if answer[0] != "ok":
                self.next = None  # asked again after an error: starts over then
            self.cond.notify_all()  # room for one more
            return answer

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.worker.join(5)


def child_main(conn: Connection, nats_url: str, stream: str, chain_id: str) -> None:
    """Answer (start_seq, limit, timeout) requests until None or the pipe closes."""
    from streams.intake_reader import IntakeReader

    source = IntakeReader(nats_url, stream=stream)
    # PyNaCl lets go of the interpreter lock while it verifies: on two threads, the two
    # halves of a batch verify side by side whenever a core is free.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hiveledger-verify")
    ahead = ReadAhead(source, chain_id, pool)
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
