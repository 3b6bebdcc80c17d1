"""``events``: one row per ledger event, the raw material for any analysis and audit."""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View


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
            txid VARCHAR,                    -- the event's "txid" or "tx" where it has one
            time TIMESTAMPTZ,                -- the event's timestamp
            data JSON NOT NULL               -- the stored state, byte for byte (hash-chained)
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        con.execute(
            """INSERT INTO events
               SELECT seq, subject, aggregate_type, aggregate_id, version, type, topic,
                      coalesce(data->>'$.txid', data->>'$.tx'), time, data
               FROM batch_events WHERE seq > $1""",
            [batch.since],
        )
