"""``transactions``: what became of every transaction (one TxRecord.Decided each), and
``transfers``: the money moves of the accepted transfers and mints, from their signed body.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from projections.records import Batch
from projections.views.base import View, changed_rows

# The batch's decisions, with their attributes and signed body as typed columns: decoded
# once into a TEMP table, then read by both inserts.
DECIDED = "decided_batch"


class TransactionsView(View):
    """Both tables come from TxRecord.Decided events, so one view (one position) makes them."""

    name = "transactions"
    version = 2  # 2: projected_at
    tables = ("transactions", "transfers")
    ddl = (
        """CREATE TABLE IF NOT EXISTS transactions (
            txid VARCHAR PRIMARY KEY,  -- hex SHA-256 of the DSSE pre-authentication encoding
            seq BIGINT NOT NULL,       -- ledger position of the decision
            status VARCHAR NOT NULL,   -- accepted | rejected
            kind VARCHAR NOT NULL,     -- transfer, mint, ...
            signer VARCHAR NOT NULL,
            nonce BIGINT,
            code VARCHAR,              -- the rejection's stable error code; '' if accepted
            reason VARCHAR,
            intake_seq BIGINT,         -- INTAKE stream sequence of the submission
            sequenced_at BIGINT,       -- the sequencer's clock, unix ms, as recorded
            time TIMESTAMPTZ,          -- the decision event's timestamp
            body JSON,                 -- the signed body, NULL if the envelope is junk
            projected_at TIMESTAMPTZ   -- wall clock when the projector wrote the row, just
                                       -- before its batch committed (lag: - sequenced_at)
        )""",
        """CREATE TABLE IF NOT EXISTS transfers (
            txid VARCHAR PRIMARY KEY,
            seq BIGINT NOT NULL,
            kind VARCHAR NOT NULL,     -- transfer | mint
            from_address VARCHAR,      -- the signer for a transfer; NULL for a mint
            to_address VARCHAR,
            amount BIGINT,             -- units
            memo VARCHAR,
            nonce BIGINT,
            signer VARCHAR NOT NULL,   -- for a mint, the treasury that signed it
            time TIMESTAMPTZ
        )""",
        f"""CREATE TEMP TABLE IF NOT EXISTS {DECIDED} (
            seq BIGINT, time TIMESTAMPTZ, txid VARCHAR, status VARCHAR, kind VARCHAR,
            signer VARCHAR, nonce BIGINT, code VARCHAR, reason VARCHAR, intake_seq BIGINT,
            sequenced_at BIGINT, body JSON
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        decided = changed_rows(
            con,
            f"""INSERT INTO {DECIDED}
                SELECT seq, time, d.txid, d.status, d.kind, d.signer, d.nonce,
                       coalesce(d.code, ''), coalesce(d.reason, ''), d.intake_seq,
                       d.sequenced_at, tx_body(d.envelope)
                FROM (SELECT seq, time, json_transform(data, '{{
                        "txid": "VARCHAR", "status": "VARCHAR", "kind": "VARCHAR",
                        "signer": "VARCHAR", "nonce": "BIGINT", "code": "VARCHAR",
                        "reason": "VARCHAR", "intake_seq": "BIGINT",
                        "sequenced_at": "BIGINT", "envelope": "VARCHAR"}}') AS d
                      FROM batch_events WHERE type = 'TxRecord.Decided' AND seq > $1)""",
            [batch.since],
        )
        if not decided:
            return
        con.execute(
            f"""INSERT INTO transactions
                SELECT txid, seq, status, kind, signer, nonce, code, reason, intake_seq,
                       sequenced_at, time, body, $1
                FROM {DECIDED}""",
            [datetime.now(UTC)],
        )
        con.execute(
            f"""INSERT INTO transfers
                SELECT txid, seq, kind, CASE WHEN kind = 'transfer' THEN signer END,
                       body->>'$.to', TRY_CAST(body->>'$.amount' AS BIGINT),
                       coalesce(body->>'$.memo', ''), nonce, signer, time
                FROM {DECIDED}
                WHERE status = 'accepted' AND kind IN ('transfer', 'mint')"""
        )
        con.execute(f"DELETE FROM {DECIDED}")
