"""nats-py's protocol parser with a fast path for messages of frame subscriptions.

nats-py's ``Parser`` tries its regular expressions on every control line and awaits a
coroutine per message: about half of what a bulk reader spends per message. Here a run of
``MSG``/``HMSG`` frames for frame subscriptions (see ``streams.push_frames``) is cut out
of the read buffer with plain byte searches and handed to the subscription's queue
without awaiting anything. The first thing that is not such a frame (another
subscription's message, PING, INFO, -ERR, a frame cut in two by the read) ends the fast
path: nats-py's own parser takes the rest of the buffer, as it would have done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from nats.protocol.parser import AWAITING_CONTROL_LINE, Parser

if TYPE_CHECKING:
    from collections.abc import Mapping

_HMSG = b"HMSG "
_MSG = b"MSG "
_CRLF = b"\r\n"


class FrameSink(Protocol):
    def receive(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        """Keep one delivered frame (never awaits)."""


class FrameOwner(Protocol):
    """What the parser needs of its client: the frame subscriptions and the stats."""

    _frame_queues: Mapping[int, FrameSink]
    stats: dict[str, int]


class FrameParser(Parser):
    """``Parser`` for a FrameClient: frames of frame subscriptions take the fast path."""

    def reset(self) -> None:
        super().reset()
        self.frame_needed = 0  # bytes the buffer must hold before its first frame is whole

    async def parse(self, data: bytes = b"") -> None:
        self.buf.extend(data)
        if self.state == AWAITING_CONTROL_LINE:
            if len(self.buf) < self.frame_needed:
                return  # a large frame still arriving: no need to look at it again yet
            if self.take_frames():
                return  # what is left is the start of a frame: wait for the rest of it
        if self.buf:
            await super().parse()

    def take_frames(self) -> bool:
        """Hand the leading run of complete frame-subscription messages to their queues
        and drop them from the buffer. True when the buffer is empty or holds only the
        start of such a frame (wait for the next read); False when what comes next is
        for nats-py's parser."""
        owner: FrameOwner = self.nc
        queues = owner._frame_queues
        view = bytes(self.buf)  # slices of bytes are bytes: one copy per message part
        size = len(view)
        pos = taken = received = 0
        self.frame_needed = 0
        try:
            while pos < size:
                if view.startswith(_HMSG, pos):
                    skip, with_headers = 5, True
                elif view.startswith(_MSG, pos):
                    skip, with_headers = 4, False
                else:
                    return False
                eol = view.find(_CRLF, pos)
                if eol < 0:
                    return True  # the rest of the control line is in the next read
                frame = _frame_args(view[pos + skip : eol].split(), with_headers)
                queue = None if frame is None else queues.get(frame[1])
                if frame is None or queue is None:
                    return False
                subject, _, reply, header_len, total = frame
                start = eol + 2
                end = start + total
                if end + 2 > size:
                    self.frame_needed = end + 2 - pos  # counted from the frame's start
                    return True  # the rest of the frame is in the next reads
                headers = view[start : start + header_len] if header_len else None
                payload = view[start + header_len : end]
                pos = end + 2
                taken += 1
                received += len(payload)
                queue.receive(subject, reply, payload, headers)
            return True
        finally:
            if pos:  # what was handed over leaves the buffer, whatever happens next
                del self.buf[:pos]
                stats = owner.stats
                stats["in_msgs"] += taken
                stats["in_bytes"] += received


def _frame_args(args: list[bytes], with_headers: bool) -> tuple[bytes, int, bytes, int, int] | None:
    """(subject, sid, reply, header length, total length) of a MSG/HMSG control line's
    arguments, or None when they are not well formed (nats-py's parser then decides)."""
    if with_headers:
        if len(args) == 5:
            subject, sid, reply, header_len, total = args
        elif len(args) == 4:
            subject, sid, header_len, total = args
            reply = b""
        else:
            return None
    else:
        header_len = b"0"
        if len(args) == 4:
            subject, sid, reply, total = args
        elif len(args) == 3:
            subject, sid, total = args
            reply = b""
        else:
            return None
    if not (sid.isdigit() and header_len.isdigit() and total.isdigit()):
        return None
    headers, length = int(header_len), int(total)
    if headers > length:
        return None
    return subject, int(sid), reply, headers, length
