"""``transactions``: what became of every transaction (one TxRecord.Decided each), and
``transfers``: the money moves of the accepted transfers and mints, from their signed body.
"""

from __future__ import annotations

from typing import Any

import duckdb

from projections.records import Batch, LedgerEvent, as_int, decode_envelope_body, json_encode
from projections.views.base import View, append_rows

DECIDED = "TxRecord.Decided"
MONEY_KINDS = ("transfer", "mint")


def body_of(event: LedgerEvent) -> dict[str, Any] | None:
    """The decoded body of a TxRecord's envelope, decoded once per batch for all views."""
    if "body" not in event.derived:
        envelope = event.state.get("envelope")
        event.derived["body"] = (
            decode_envelope_body(envelope) if isinstance(envelope, str) and envelope else None
        )
    return event.derived["body"]


def decided(batch: Batch) -> list[LedgerEvent]:
    return [e for e in batch.of("tx") if e.type == DECIDED]


class TransactionsView(View):
    name = "transactions"
    version = 1
    tables = ("transactions",)
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
            body JSON                  -- the signed body, NULL if the envelope is garbage
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        rows = []
        for e in decided(batch):
            s = e.state
            body = body_of(e)
            rows.append(
                (
                    s.get("txid", e.aggregate_key), e.seq, s["status"], s["kind"], s["signer"],
                    as_int(s.get("nonce")), s.get("code", ""), s.get("reason", ""),
                    as_int(s.get("intake_seq")), as_int(s.get("sequenced_at")), e.time,
                    None if body is None else json_encode(body).decode(),
                )
            )
        append_rows(con, "transactions", rows)


class TransfersView(View):
    name = "transfers"
    version = 1
    tables = ("transfers",)
    ddl = (
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
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        rows = []
        for e in decided(batch):
            s = e.state
            if s.get("status") != "accepted" or s.get("kind") not in MONEY_KINDS:
                continue
            body = body_of(e) or {}
            kind = s["kind"]
            memo = body.get("memo")
            rows.append(
                (
                    s.get("txid", e.aggregate_key), e.seq, kind,
                    s["signer"] if kind == "transfer" else None,
                    body.get("to") if isinstance(body.get("to"), str) else None,
                    as_int(body.get("amount")),
                    memo if isinstance(memo, str) else "",
                    as_int(s.get("nonce")), s["signer"], e.time,
                )
            )
        append_rows(con, "transfers", rows)
