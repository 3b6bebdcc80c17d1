"""The frame parser's fast path (streams/frame_parser.py) against nats-py's own parser:
whatever way the bytes are cut into reads, every operation is handled once, in wire
order, with the same subject, reply, headers and payload. A unit test of the parsing
logic: the client is a recorder (the real client is covered in tests/test_push_frames.py)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.errors import ProtocolError

from streams.frame_parser import FrameParser

FRAME_SID = 7
OTHER_SID = 9


class Recorder:
    """What FrameClient offers the parser, writing down every operation it is handed."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.stats = {"in_msgs": 0, "in_bytes": 0}
        self._frame_queues = {FRAME_SID: self}

    def receive(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.log.append(("frame", subject, reply, data, headers))

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        if sid == FRAME_SID:  # what FrameClient._process_msg does with a frame
            self.stats["in_msgs"] += 1
            self.stats["in_bytes"] += len(data)
            self.receive(subject, reply, data, headers or None)
        else:
            self.log.append(("other", sid, subject, reply, data, headers))

    async def _process_ping(self) -> None:
        self.log.append(("ping",))

    async def _process_pong(self) -> None:
        self.log.append(("pong",))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.log.append(("info", info))

    async def _process_err(self, message: str) -> None:
        self.log.append(("err", message))


def hmsg(sid: int, subject: bytes, reply: bytes, headers: bytes, data: bytes) -> bytes:
    args = [subject, str(sid).encode()] + ([reply] if reply else [])
    sizes = f"{len(headers)} {len(headers) + len(data)}".encode()
    return b"HMSG " + b" ".join([*args, sizes]) + b"\r\n" + headers + data + b"\r\n"


def msg(sid: int, subject: bytes, reply: bytes, data: bytes) -> bytes:
    args = [subject, str(sid).encode()] + ([reply] if reply else [])
    return b"MSG " + b" ".join([*args, str(len(data)).encode()]) + b"\r\n" + data + b"\r\n"


HEADERS = b"NATS/1.0\r\nHive-Topic: t\r\n\r\n"
OPS: list[tuple[bytes, tuple[Any, ...]]] = [
    (hmsg(7, b"a.b", b"$JS.ACK.S.c.1.1.1.1.0", HEADERS, b"{}"),
     ("frame", b"a.b", b"$JS.ACK.S.c.1.1.1.1.0", b"{}", HEADERS)),
    (hmsg(7, b"a.c", b"", HEADERS, b""), ("frame", b"a.c", b"", b"", HEADERS)),
    (msg(7, b"a.d", b"r", b"x\r\ny"), ("frame", b"a.d", b"r", b"x\r\ny", None)),
    (msg(9, b"_INBOX.1", b"", b"reply"), ("other", 9, b"_INBOX.1", b"", b"reply", None)),
    (hmsg(9, b"_INBOX.2", b"", HEADERS, b"z"), ("other", 9, b"_INBOX.2", b"", b"z", HEADERS)),
    (b"PING\r\n", ("ping",)),
    (b"PONG\r\n", ("pong",)),
    (b"+OK\r\n", None),
    (b'INFO {"max_payload": 1024}\r\n', ("info", {"max_payload": 1024})),
]  # fmt: skip


async def feed(chunks: list[bytes]) -> Recorder:
    owner = Recorder()
    parser = FrameParser(owner)
    for chunk in chunks:
        await parser.parse(chunk)
    assert not parser.buf, "every complete operation is handled"
    return owner


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *sorted({p % (len(data) + 1) for p in points}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(
    order=st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=25),
    points=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_any_cut_of_any_sequence_is_parsed_once_in_order(
    order: list[int], points: list[int]
) -> None:
    wire = b"".join(OPS[i][0] for i in order)
    owner = asyncio.run(feed(cut(wire, points)))
    expected = [OPS[i][1] for i in order if OPS[i][1] is not None]
    assert owner.log == expected
    frames = [e for e in expected if e[0] == "frame"]
    assert owner.stats["in_msgs"] == len(frames)
    assert owner.stats["in_bytes"] == sum(len(e[3]) for e in frames)


async def test_a_run_of_frames_takes_the_fast_path_without_awaiting() -> None:
    owner = Recorder()
    parser = FrameParser(owner)
    parser.buf.extend(OPS[0][0] * 3 + OPS[2][0] + OPS[0][0][:10])
    assert parser.take_frames() is True  # the rest is the start of a frame: wait for it
    assert [e[0] for e in owner.log] == ["frame"] * 4
    assert bytes(parser.buf) == OPS[0][0][:10]


async def test_the_fast_path_stops_at_another_subscription() -> None:
    owner = Recorder()
    parser = FrameParser(owner)
    parser.buf.extend(OPS[0][0] + OPS[3][0] + OPS[0][0])
    assert parser.take_frames() is False
    assert len(owner.log) == 1 and bytes(parser.buf) == OPS[3][0] + OPS[0][0]


@pytest.mark.parametrize(
    "line",
    [b"HMSG a.b 7 x 5\r\nNATS/\r\n", b"HMSG a.b 7\r\n", b"MSG a.b seven 1\r\nx\r\n"],
)
async def test_malformed_frames_are_left_to_nats_py_which_refuses_them(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        await feed([line])


async def test_a_large_frame_arriving_over_many_reads_is_not_rescanned_each_time() -> None:
    payload = bytes(range(256)) * 4096  # 1 MB
    wire = hmsg(FRAME_SID, b"a.big", b"r", HEADERS, payload)
    owner = Recorder()
    parser = FrameParser(owner)
    reads = [wire[i : i + 32768] for i in range(0, len(wire), 32768)]
    await parser.parse(reads[0])
    assert parser.frame_needed == len(wire)  # known once the control line is in
    for chunk in reads[1:]:
        await parser.parse(chunk)
    assert owner.log == [("frame", b"a.big", b"r", payload, HEADERS)] and not parser.buf
    assert parser.frame_needed == 0
