"""A faster drop-in for eventsourcing's JSONTranscoder: the same bytes, written by msgspec.

The sequencer encodes every event it records; the standard library's encoder with its
``default`` hook was the largest single cost of recording. Flat states (nearly all events)
are encoded by msgspec after their datetime/UUID/Decimal values are wrapped exactly as
JSONTranscoder wraps them ({"_type_": name, "_data_": ...}); anything nested, or of a type
without a registered transcoding, goes through JSONTranscoder itself. Decoding is
JSONTranscoder's. tests/test_transcoder.py checks the bytes are identical.
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.persistence import JSONTranscoder

_PLAIN = (str, int, bool, type(None))
_encode = msgspec.json.Encoder().encode


class MsgspecTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            return super().encode(obj)
        flat: dict[str, Any] = {}
        types = self.types
        for key, value in obj.items():
            kind = type(value)
            if kind in _PLAIN:
                flat[key] = value
            elif kind in types:
                transcoding = types[kind]
                flat[key] = {"_type_": transcoding.name, "_data_": transcoding.encode(value)}
            else:  # nested containers, floats, custom types: the reference encoder decides
                return super().encode(obj)
        return _encode(flat)
