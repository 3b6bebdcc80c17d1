"""The check process's read-ahead (streams/check_process.py), on an in-memory INTAKE: the
same answers as checking on request, in order, however the requests come."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from gateways.sdk import transactions
from streams.check_process import ReadAhead
from streams.check_wire import decode_checked
from streams.intake import IntakeMessage, MemoryIntake, check
from streams.keys import Keypair

CHAIN = "ahead-chain"
KEY = Keypair.from_seed32(b"r" * 32)


def envelope(nonce: int) -> bytes:
    return transactions.transfer(KEY, chain_id=CHAIN, to=KEY.address, amount=1, nonce=nonce)[1]


class CountingIntake(MemoryIntake):
    def __init__(self, count: int) -> None:
        super().__init__(envelope(i + 1) for i in range(count))
        self.reads: list[tuple[int, int]] = []
        self.fail_at: int | None = None

    def fetch(self, start_seq: int, limit: int, timeout: float = 0) -> list[IntakeMessage]:
        self.reads.append((start_seq, limit))
        if start_seq == self.fail_at:
            raise TimeoutError("INTAKE read timed out")
        return super().fetch(start_seq, limit, timeout)


def seqs(answer: tuple[str, object]) -> list[int]:
    status, payload = answer
    assert status == "ok", payload
    messages, checked = decode_checked(payload[0])  # type: ignore[index]
    assert checked == [check(m, CHAIN) for m in messages]
    return [m.seq for m in messages]


@contextmanager
def read_ahead(intake: CountingIntake, depth: int = 3) -> Iterator[ReadAhead]:
    pool = ThreadPoolExecutor(max_workers=2)
    ahead = ReadAhead(intake, CHAIN, pool, depth=depth)
    try:
        yield ahead
    finally:
        ahead.close()
        pool.shutdown()


def wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_consecutive_requests_are_served_from_batches_checked_ahead() -> None:
    intake = CountingIntake(40)
    with read_ahead(intake, depth=3) as ahead:
        assert seqs(ahead.answer(1, 5, 2.0)) == [1, 2, 3, 4, 5]
        wait_for(lambda: len(ahead.ready) == 3)  # 6-10, 11-15, 16-20 ready; no further
        time.sleep(0.1)
        assert intake.reads[-1] == (16, 5) and len(ahead.ready) == 3
        assert seqs(ahead.answer(6, 5, 2.0)) == [6, 7, 8, 9, 10]
        wait_for(lambda: intake.reads[-1] == (21, 5))  # room again: one more
        for start in (11, 16, 21, 26, 31, 36):
            assert seqs(ahead.answer(start, 5, 2.0)) == list(range(start, start + 5))
        assert seqs(ahead.answer(41, 5, 0.1)) == []  # nothing there within the timeout


def test_the_rest_of_a_batch_cut_short_is_answered_from_what_was_checked() -> None:
    """A sequencer that fitted only a prefix of a batch into its write asks for the rest:
    it comes from the batch already checked, and the batches read ahead still fit."""
    intake = CountingIntake(30)
    with read_ahead(intake) as ahead:
        assert seqs(ahead.answer(1, 4, 2.0)) == [1, 2, 3, 4]
        wait_for(lambda: len(ahead.ready) == 3)
        reads = len(intake.reads)
        assert seqs(ahead.answer(3, 4, 2.0)) == [3, 4]
        assert seqs(ahead.answer(4, 4, 2.0)) == [4]
        assert seqs(ahead.answer(5, 4, 2.0)) == [5, 6, 7, 8]
        wait_for(lambda: len(intake.reads) > reads)
        assert intake.reads[reads:] == [(17, 4)]  # read on, nothing read again


def test_a_request_elsewhere_drops_the_guesses_and_reads_there() -> None:
    intake = CountingIntake(30)
    with read_ahead(intake) as ahead:
        assert seqs(ahead.answer(1, 4, 2.0)) == [1, 2, 3, 4]
        wait_for(lambda: len(ahead.ready) == 3)
        assert seqs(ahead.answer(11, 4, 2.0)) == [11, 12, 13, 14]  # a jump ahead
        assert seqs(ahead.answer(2, 4, 2.0)) == [2, 3, 4, 5]  # a sequencer that reloaded
        assert seqs(ahead.answer(6, 4, 2.0)) == [6, 7, 8, 9]
        assert seqs(ahead.answer(10, 2, 2.0)) == [10, 11]  # another limit is another plan


def test_what_arrives_after_a_timeout_is_there_at_the_next_request() -> None:
    intake = CountingIntake(2)
    with read_ahead(intake) as ahead:
        assert seqs(ahead.answer(1, 5, 2.0)) == [1, 2]
        assert seqs(ahead.answer(3, 5, 0.1)) == []
        intake.add(envelope(3))
        wait_for(lambda: bool(ahead.ready))
        assert seqs(ahead.answer(3, 5, 2.0)) == [3]


def test_a_failed_read_is_answered_as_an_error_and_read_again_when_asked() -> None:
    intake = CountingIntake(10)
    intake.fail_at = 6
    with read_ahead(intake) as ahead:
        assert seqs(ahead.answer(1, 5, 2.0)) == [1, 2, 3, 4, 5]
        status, text = ahead.answer(6, 5, 2.0)
        assert status == "error" and "TimeoutError" in str(text)
        intake.fail_at = None
        assert seqs(ahead.answer(6, 5, 2.0)) == [6, 7, 8, 9, 10]
