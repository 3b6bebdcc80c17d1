"""``commits``: the hash chain's commit records, one per atomic batch of the ledger."""

from __future__ import annotations

from typing import Any

import duckdb

from projections.records import Batch, as_int, json_encode, ms_to_datetime
from projections.views.base import View, append_rows


class CommitsView(View):
    name = "commits"
    version = 1
    tables = ("commits",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS commits (
            seq BIGINT PRIMARY KEY,  -- the message carrying the record (last of its batch)
            hash VARCHAR,            -- hex SHA-256 chaining this batch to the previous one
            prev VARCHAR,
            first_seq BIGINT,        -- first stream sequence of the batch
            count BIGINT,            -- event messages in the batch
            last_event BIGINT,
            time TIMESTAMPTZ,        -- the sequencer's clock at commit
            tracking JSON,           -- the intake position recorded with the batch
            data JSON NOT NULL       -- the whole record
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        rows = [_row(c.seq, c.record) for c in batch.commits]
        append_rows(con, "commits", rows)


def _row(seq: int, record: Any) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        record = {"value": record}
    tracking = record.get("tracking")
    return (
        seq,
        _text(record.get("hash")),
        _text(record.get("prev")),
        as_int(record.get("first_seq")),
        as_int(record.get("count")),
        as_int(record.get("last_event")),
        ms_to_datetime(record.get("time")),
        None if tracking is None else json_encode(tracking).decode(),
        json_encode(record).decode(),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
