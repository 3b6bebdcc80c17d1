"""A projector batch ends where a sequencer write ends, so DuckDB never shows half a write."""

from __future__ import annotations

from projections.records import RawMsg
from projections.runner import split_at_last_commit


def raw(seq: int, commit: bool = False) -> RawMsg:
    headers = {"Hive-Topic": "t", "Hive-Version": "1"}
    if commit:
        headers["Hive-Commit"] = "{}"
    return RawMsg(seq, f"hive.ledger.wallet.w{seq}", headers, b"{}", 0)


def test_a_batch_ends_at_the_last_commit_record() -> None:
    msgs = [raw(1), raw(2, commit=True), raw(3), raw(4, commit=True), raw(5), raw(6)]
    now, later = split_at_last_commit(msgs, caught_up=True)
    assert [m.seq for m in now] == [1, 2, 3, 4] and [m.seq for m in later] == [5, 6]


def test_half_a_write_waits_for_the_rest() -> None:
    now, later = split_at_last_commit([raw(1), raw(2)], caught_up=False)
    assert now == [] and [m.seq for m in later] == [1, 2]


def test_a_ledger_without_commit_records_is_applied_once_caught_up() -> None:
    now, later = split_at_last_commit([raw(1), raw(2)], caught_up=True)
    assert [m.seq for m in now] == [1, 2] and later == []
