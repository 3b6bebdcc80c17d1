"""The check stage in a process of its own (streams/check_stage.py): INTAKE fetched and
checked there, answers the same as checking here, and a lost child is replaced."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from domain.errors import ErrorCode, LedgerError
from gateways.sdk import transactions
from streams.check_stage import CheckStageError, InProcessFeed, ProcessFeed
from streams.envelope import OpenedTx
from streams.intake import Refusal
from streams.intake_bulk import publish_bulk
from streams.intake_reader import IntakeReader
from streams.jetstream import ensure_intake_stream
from streams.keys import Keypair
from streams.server import EmbeddedNatsServer

CHAIN = "check-chain"
KEY = Keypair.from_seed32(b"c" * 32)


def envelopes(count: int) -> list[bytes]:
    out = [
        transactions.transfer(KEY, chain_id=CHAIN, to=KEY.address, amount=5, nonce=i + 1)[1]
        for i in range(count)
    ]
    out[2] = b"not an envelope"
    return out


def summary(item: OpenedTx | Refusal) -> object:
    """Refusals carry exceptions, which do not compare equal: compare what they say."""
    if isinstance(item, Refusal):
        return (item.txid, item.kind, item.error.code, item.error.reason)
    return item


async def fill_intake(url: str, stream: str, data: list[bytes]) -> None:
    nc = await nats.connect(url)
    await ensure_intake_stream(nc, name=stream, subjects_prefix="hive.intake")
    await publish_bulk(nc, [("transfer", d) for d in data])
    await nc.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with EmbeddedNatsServer(tmp_path_factory.mktemp("check")) as running:
        stream = f"IN{uuid.uuid4().hex[:6].upper()}"
        asyncio.run(fill_intake(running.url, stream, envelopes(12)))
        yield running, stream


def take_from(feed, start: int, count: int) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """``count`` messages from ``start``, asking again where a read stopped short (a
    consumer just started delivers what it has so far)."""
    messages: list = []
    checked: list = []
    for _ in range(50):
        feed.ask(start + len(messages), count - len(messages), 1.0)
        more, more_checked = feed.take()
        messages += more
        checked += more_checked
        if len(messages) >= count:
            break
    return messages, checked


def test_the_process_answers_as_checking_here_would(server) -> None:  # type: ignore[no-untyped-def]
    running, stream = server
    source = IntakeReader(running.url, stream=stream)
    here, there = InProcessFeed(source, CHAIN), ProcessFeed(running.url, CHAIN, stream=stream)
    try:
        mine, checked_here = take_from(here, 2, 5)
        theirs, checked_there = take_from(there, 2, 5)
        assert [m.seq for m in theirs] == [m.seq for m in mine] == [2, 3, 4, 5, 6]
        assert [summary(c) for c in checked_there] == [summary(c) for c in checked_here]
        assert isinstance(checked_there[0], OpenedTx)
        refusal = checked_there[1]
        assert isinstance(refusal, Refusal) and isinstance(refusal.error, LedgerError)
        assert refusal.error.error_code is ErrorCode.ENVELOPE_MALFORMED
        there.ask(13, 5, 0.05)
        assert there.take() == ([], [])  # nothing past the end
    finally:
        there.close()
        source.close()


def read_from(reader: IntakeReader, start: int, count: int) -> list:  # type: ignore[type-arg]
    """``count`` messages from ``start``, reading on where a read stopped short (a consumer
    just started delivers what it has so far)."""
    got: list = []  # type: ignore[type-arg]
    for _ in range(50):
        got += reader.fetch(start + len(got), count - len(got), 2.0)
        if len(got) >= count:
            break
    return got


def test_the_intake_reader_reads_in_order_and_moves_when_asked(server) -> None:  # type: ignore[no-untyped-def]
    running, stream = server
    reader = IntakeReader(running.url, stream=stream)
    try:
        assert [m.seq for m in read_from(reader, 1, 5)] == [1, 2, 3, 4, 5]
        assert [m.seq for m in read_from(reader, 6, 4)] == [6, 7, 8, 9]
        assert reader.restarts == 1, "reading on from where it stopped keeps the consumer"
        again = read_from(reader, 3, 2)
        assert [m.seq for m in again] == [3, 4] and reader.restarts == 2
        assert again[0].data == envelopes(12)[2] and again[0].subject == "hive.intake.transfer"
        assert [m.seq for m in read_from(reader, 5, 8)] == list(range(5, 13))
        assert reader.fetch(13, 5, 0.05) == []  # nothing past the end
    finally:
        reader.close()


def test_a_lost_check_process_is_reported_then_replaced(server) -> None:  # type: ignore[no-untyped-def]
    running, stream = server
    feed = ProcessFeed(running.url, CHAIN, stream=stream)
    try:
        feed.ask(1, 3, 1.0)
        assert len(feed.take()[0]) == 3
        feed._process.kill()
        feed._process.join(5)
        with pytest.raises(CheckStageError, match="gone"):
            feed.take()  # the pipe's far end closed with the child
        feed.ask(4, 3, 1.0)  # starts another child
        messages, checked = feed.take()
        assert [m.seq for m in messages] == [4, 5, 6] and len(checked) == 3
    finally:
        feed.close()


def test_the_process_reads_ahead_and_drops_a_wrong_guess(server) -> None:  # type: ignore[no-untyped-def]
    """After each answer the child checks the batch after it; asked for that one, it
    answers the same as checking afresh; asked for another (a sequencer that reloaded),
    it reads there instead."""
    running, stream = server
    source = IntakeReader(running.url, stream=stream)
    here, there = InProcessFeed(source, CHAIN), ProcessFeed(running.url, CHAIN, stream=stream)
    try:
        for start in (1, 5, 9, 2, 6):  # 5, 9 and 6 were read ahead; 2 was not
            mine, checked_here = take_from(here, start, min(4, 13 - start))
            theirs, checked_there = take_from(there, start, min(4, 13 - start))
            assert [m.seq for m in theirs] == [m.seq for m in mine]
            assert [m.seq for m in theirs] == list(range(start, min(start + 4, 13)))
            assert [summary(c) for c in checked_there] == [summary(c) for c in checked_here]
    finally:
        there.close()
        source.close()


def test_answers_cross_the_pipe_unchanged() -> None:
    """streams/check_wire.py: accepted envelopes come back with their typed body, refusals
    with their code and reason, every message with its sequence, subject and bytes."""
    from streams.check_wire import decode_checked, encode_checked
    from streams.intake import IntakeMessage, check

    messages = [IntakeMessage(i + 7, "hive.intake.transfer", e) for i, e in enumerate(envelopes(5))]
    checked = [check(m, CHAIN) for m in messages]
    again, checked_again = decode_checked(encode_checked(messages, checked))
    assert again == messages
    assert [summary(c) for c in checked_again] == [summary(c) for c in checked]
    assert isinstance(checked_again[0], OpenedTx) and checked_again[0].body == checked[0].body
    assert type(checked_again[0].body) is type(checked[0].body)
    assert decode_checked(encode_checked([], [])) == ([], [])
