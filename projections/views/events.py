"""``events``: one row per ledger event, the raw material for any analysis."""

from __future__ import annotations

import duckdb

from projections.records import Batch, json_encode
from projections.views.base import View, append_rows


class EventsView(View):
    name = "events"
    version = 1
    tables = ("events",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS events (
            seq BIGINT PRIMARY KEY,          -- LEDGER stream sequence: the ledger position
            subject VARCHAR NOT NULL,
            aggregate_type VARCHAR NOT NULL, -- wallet, chain, tx, ...
            aggregate_id VARCHAR NOT NULL,   -- "<type>.<key>"
            version BIGINT NOT NULL,         -- the aggregate's version after this event
            type VARCHAR NOT NULL,           -- e.g. Wallet.Credited
            topic VARCHAR NOT NULL,          -- e.g. domain.wallet:Wallet.Credited
            txid VARCHAR,                    -- the event's "tx"/"txid" where it has one
            time TIMESTAMPTZ,                -- the event's timestamp
            data JSON NOT NULL               -- the event's attributes, timestamp left out
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        rows = [
            (
                e.seq,
                e.subject,
                e.aggregate_type,
                e.aggregate_id,
                e.version,
                e.type,
                e.topic,
                e.txid,
                e.time,
                json_encode(e.state).decode(),
            )
            for e in batch.events
        ]
        append_rows(con, "events", rows)
