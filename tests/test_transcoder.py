"""The msgspec transcoder writes exactly the bytes eventsourcing's JSONTranscoder writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.transcoder import MsgspecTranscoder


def pair() -> tuple[JSONTranscoder, MsgspecTranscoder]:
    ref, fast = JSONTranscoder(), MsgspecTranscoder()
    for t in (ref, fast):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            t.register(transcoding)
    return ref, fast


values = st.one_of(
    st.text(), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none(),
    st.datetimes(timezones=st.just(UTC)), st.uuids(), st.decimals(allow_nan=False),
    st.dictionaries(st.text(), st.integers()), st.lists(st.text(max_size=5), max_size=3),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=8))
def test_same_bytes_and_round_trip(state: dict[str, object]) -> None:
    ref, fast = pair()
    data = fast.encode(state)
    assert data == ref.encode(state)
    assert fast.decode(data) == ref.decode(data)


def test_an_event_state() -> None:
    ref, fast = pair()
    state = {
        "timestamp": datetime(2026, 11, 22, 14, 44, 24, 162511, tzinfo=UTC),
        "originator_topic": "domain.wallet:Wallet", "tx": "ab" * 32, "amount": 2**62,
        "memo": 'quote " backslash \\ newline \n tab \t unicode é 中 \u2028 \x00',
        "id": UUID(int=7), "price": Decimal("1.50"),
    }  # fmt: skip
    assert fast.encode(state) == ref.encode(state)
