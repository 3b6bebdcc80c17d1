"""``wallets``: balance and nonce per address, folded from the Wallet events.

Per batch, the events are folded in Python into one staging row per address, appended in
one flush, then applied with two set-based statements: INSERT for wallets opened in the
batch, UPDATE ... FROM for the others (balance += net delta).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from projections.records import Batch, LedgerEvent, ProjectionError
from projections.views.base import View, append_rows, clear, expect_rows

STAGE = "stage_wallets"


@dataclass(slots=True)
class _Fold:
    opened_seq: int | None = None
    opened_at: datetime | None = None
    delta: int = 0
    received: int = 0
    sent: int = 0
    nonce: int | None = None
    updated_seq: int = 0
    updated_at: datetime | None = None
    events: int = 0

    def row(self, address: str) -> tuple[object, ...]:
        return (
            address, self.opened_seq, self.opened_at, self.delta, self.received, self.sent,
            self.nonce, self.updated_seq, self.updated_at, self.events,
        )


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
    )
    staging_ddl = (
        f"""CREATE TEMP TABLE IF NOT EXISTS {STAGE} (
            address VARCHAR, opened_seq BIGINT, opened_at TIMESTAMPTZ, delta BIGINT,
            received HUGEINT, sent HUGEINT, nonce BIGINT, updated_seq BIGINT,
            updated_at TIMESTAMPTZ, events BIGINT
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        folds = fold_wallets(batch.of("wallet"))
        if not folds:
            return
        append_rows(con, STAGE, [fold.row(address) for address, fold in folds.items()])
        opened = sum(1 for fold in folds.values() if fold.opened_seq is not None)
        expect_rows(
            con,
            f"""INSERT INTO wallets
                SELECT address, delta, coalesce(nonce, 0), received, sent, events,
                       opened_seq, opened_at, updated_seq, updated_at
                FROM {STAGE} WHERE opened_seq IS NOT NULL""",
            opened,
            "wallets opened",
            batch,
        )
        expect_rows(
            con,
            f"""UPDATE wallets w SET
                    balance = w.balance + s.delta,
                    nonce = coalesce(s.nonce, w.nonce),
                    received = w.received + s.received,
                    sent = w.sent + s.sent,
                    events = w.events + s.events,
                    updated_seq = s.updated_seq,
                    updated_at = s.updated_at
                FROM {STAGE} s
                WHERE s.opened_seq IS NULL AND w.address = s.address""",
            len(folds) - opened,
            "wallet events for wallets never opened",
            batch,
        )
        clear(con, [STAGE])


def fold_wallets(events: list[LedgerEvent]) -> dict[str, _Fold]:
    """Net effect of the batch per address; the ledger order fixes nonce and last seq."""
    folds: dict[str, _Fold] = {}
    for e in events:
        fold = folds.get(e.aggregate_key)
        if fold is None:
            fold = folds[e.aggregate_key] = _Fold()
        kind, state = e.type, e.state
        if kind == "Wallet.Credited":
            fold.delta += state["amount"]
            fold.received += state["amount"]
        elif kind == "Wallet.Debited":
            fold.delta -= state["amount"]
            fold.sent += state["amount"]
            fold.nonce = state["nonce"]
        elif kind == "Wallet.NonceUsed":
            fold.nonce = state["nonce"]
        elif kind == "Wallet.Opened":
            if fold.events:
                raise ProjectionError(f"seq {e.seq}: {e.aggregate_id} opened after its events")
            fold.opened_seq, fold.opened_at = e.seq, e.time
        fold.events += 1
        fold.updated_seq, fold.updated_at = e.seq, e.time
    return folds
