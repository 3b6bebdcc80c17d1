"""``commits``: the hash chain's commit records, one per atomic batch of the ledger."""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View


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
            last_event BIGINT,       -- the newest event message in the ledger then
            time TIMESTAMPTZ,        -- the sequencer's clock at commit (unix ms in the record)
            tracking JSON,           -- the intake position recorded with the batch
            data JSON NOT NULL       -- the whole record
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        con.execute(
            """INSERT INTO commits
               SELECT seq, r->>'$.hash', r->>'$.prev', TRY_CAST(r->>'$.first_seq' AS BIGINT),
                      TRY_CAST(r->>'$.count' AS BIGINT), TRY_CAST(r->>'$.last_event' AS BIGINT),
                      make_timestamptz(TRY_CAST(r->>'$.time' AS BIGINT) * 1000),
                      nullif(r->'$.tracking', 'null'), r
               FROM (SELECT seq, commit_record::JSON AS r FROM ledger_batch
                     WHERE commit_record IS NOT NULL AND seq > $1)""",
            [batch.since],
        )
