"""The gateway's reads, served from the DuckDB projections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from projections import ProjectionDB, run_sql
from projections.runner import BatchProjectionRunner

TX_COLUMNS = "txid, seq, status, kind, signer, nonce, code, reason, intake_seq, sequenced_at, body"
_json = msgspec.json.Decoder()


def _row(cursor: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cursor.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


class ProjectionReads:
    """Point reads with parameters, and user SQL through ``run_sql``'s guards."""

    def __init__(self, db: ProjectionDB, runner: BatchProjectionRunner, chain_id: str) -> None:
        self.db = db
        self.runner = runner
        self.chain_id = chain_id

    def transaction(self, txid: str) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            row = _row(cur, f"SELECT {TX_COLUMNS} FROM transactions WHERE txid = ?", [txid])
        if row is not None and row["body"] is not None:
            row["body"] = _json.decode(row["body"])
        return row

    def decided_among(self, txids: Sequence[str]) -> set[str]:
        """The ones of ``txids`` the projections show decided, in one query: a point
        lookup for one (what every wait asks), a join for many (a bulk request)."""
        if not txids:
            return set()
        with self.db.cursor() as cur:
            if len(txids) == 1:
                cur.execute("SELECT txid FROM transactions WHERE txid = ?", [txids[0]])
            else:
                cur.execute(
                    "SELECT txid FROM transactions WHERE txid IN (SELECT unnest(?::VARCHAR[]))",
                    [list(txids)],
                )
            return {txid for (txid,) in cur.fetchall()}

    def wallet(self, address: str) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            row = _row(
                cur,
                "SELECT address, balance, nonce, opened_seq, updated_seq FROM wallets "
                "WHERE address = ?",
                [address],
            )
        if row is not None:
            row["exists"] = True
        return row

    def chain(self) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            return _row(
                cur,
                "SELECT chain_id, treasury, genesis_supply, minted, supply, updated_seq "
                "FROM chain WHERE chain_id = ?",
                [self.chain_id],
            )

    def sql(self, query: str) -> dict[str, Any]:
        result = run_sql(self.db, query)
        return {
            "columns": result.columns,
            "types": result.types,
            "rows": [list(r) for r in result.rows],
            "truncated": result.truncated,
            "elapsed_ms": round(result.elapsed_ms, 3),
        }

    def position(self) -> int:
        return self.runner.position
