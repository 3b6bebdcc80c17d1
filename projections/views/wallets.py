"""``wallets``: balance and nonce per address, folded from the Wallet events.

Per batch, one GROUP BY folds the batch's Wallet events into one row per address (net
delta, last nonce, counts), then two set-based statements apply it: INSERT for the
wallets opened in the batch, UPDATE ... FROM for the others (balance += delta).
"""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View, changed_rows, expect_rows

FOLD = "wallet_fold"


class WalletsView(View):
    name = "wallets"
    version = 1
    tables = ("wallets",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS wallets (
            address VARCHAR PRIMARY KEY,
            balance BIGINT NOT NULL,     -- units (1 token = 10^9 units)
            nonce BIGINT NOT NULL,       -- last nonce this address signed with; 0: none
            received HUGEINT NOT NULL,   -- all credits ever (genesis, transfers, mints)
            sent HUGEINT NOT NULL,       -- all debits ever
            events BIGINT NOT NULL,      -- Wallet events applied
            opened_seq BIGINT NOT NULL,
            opened_at TIMESTAMPTZ,
            updated_seq BIGINT NOT NULL, -- ledger position of the last event
            updated_at TIMESTAMPTZ
        )""",
        f"""CREATE TEMP TABLE IF NOT EXISTS {FOLD} (
            address VARCHAR, delta BIGINT, nonce BIGINT, received HUGEINT, sent HUGEINT,
            events BIGINT, opened_seq BIGINT, opened_at TIMESTAMPTZ, updated_seq BIGINT,
            updated_at TIMESTAMPTZ
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        folded = changed_rows(
            con,
            f"""INSERT INTO {FOLD}
                SELECT key, sum(coalesce(amount, 0) * sign),
                       arg_max(nonce, seq) FILTER (WHERE nonce IS NOT NULL),
                       sum(amount) FILTER (WHERE sign = 1),
                       sum(amount) FILTER (WHERE sign = -1),
                       count(*),
                       min(seq) FILTER (WHERE type = 'Wallet.Opened'),
                       min(time) FILTER (WHERE type = 'Wallet.Opened'),
                       max(seq), arg_max(time, seq)
                FROM (SELECT key, seq, type, time,
                             CAST(data->>'$.amount' AS HUGEINT) AS amount,
                             CAST(data->>'$.nonce' AS BIGINT) AS nonce,
                             CASE type WHEN 'Wallet.Credited' THEN 1
                                       WHEN 'Wallet.Debited' THEN -1 ELSE 0 END AS sign
                      FROM batch_events WHERE aggregate_type = 'wallet' AND seq > $1)
                GROUP BY key""",
            [batch.since],
        )
        if not folded:
            return
        opened = changed_rows(
            con,
            f"""INSERT INTO wallets
                SELECT address, delta, coalesce(nonce, 0), coalesce(received, 0),
                       coalesce(sent, 0), events, opened_seq, opened_at, updated_seq, updated_at
                FROM {FOLD} WHERE opened_seq IS NOT NULL""",
        )
        expect_rows(
            con,
            f"""UPDATE wallets w SET
                    balance = w.balance + s.delta,
                    nonce = coalesce(s.nonce, w.nonce),
                    received = w.received + coalesce(s.received, 0),
                    sent = w.sent + coalesce(s.sent, 0),
                    events = w.events + s.events,
                    updated_seq = s.updated_seq,
                    updated_at = s.updated_at
                FROM {FOLD} s
                WHERE s.opened_seq IS NULL AND w.address = s.address""",
            None,
            folded - opened,
            "wallet events for wallets never opened",
            batch,
        )
        con.execute(f"DELETE FROM {FOLD}")
