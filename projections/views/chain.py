"""``chain``: the chain's treasury and supply (genesis allocations plus mints).

Written in Python (``batch.of("chain")``) to show that style: a chain has one Created
event and then a Minted per mint, so a batch holds few of them; one statement per chain
and batch, never one per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from projections.records import Batch, json_encode
from projections.views.base import View, expect_rows


@dataclass(slots=True)
class _Fold:
    created: tuple[Any, ...] | None = None  # (treasury, genesis_supply, allocations)
    created_seq: int | None = None
    created_at: datetime | None = None
    minted: int = 0
    mints: int = 0
    updated_seq: int = 0
    updated_at: datetime | None = None


class ChainView(View):
    name = "chain"
    version = 1
    tables = ("chain",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS chain (
            chain_id VARCHAR PRIMARY KEY,
            treasury VARCHAR NOT NULL,
            genesis_supply BIGINT NOT NULL,  -- units allocated at genesis
            minted BIGINT NOT NULL,          -- units minted since
            supply BIGINT NOT NULL,          -- genesis_supply + minted
            mints BIGINT NOT NULL,
            allocations JSON,                -- address -> units at genesis
            created_seq BIGINT NOT NULL,
            created_at TIMESTAMPTZ,
            updated_seq BIGINT NOT NULL,
            updated_at TIMESTAMPTZ
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        folds: dict[str, _Fold] = {}
        for e in batch.of("chain"):
            fold = folds.setdefault(e.aggregate_key, _Fold())
            if e.type == "Chain.Created":
                allocations = e.state.get("allocations") or {}
                fold.created = (
                    e.state["treasury"],
                    sum(allocations.values()),
                    json_encode(allocations).decode(),
                )
                fold.created_seq, fold.created_at = e.seq, e.time
            elif e.type == "Chain.Minted":
                fold.minted += e.state["amount"]
                fold.mints += 1
            fold.updated_seq, fold.updated_at = e.seq, e.time
        for chain_id, f in folds.items():
            if f.created is not None:
                treasury, genesis, allocations = f.created
                con.execute(
                    "INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        chain_id,
                        treasury,
                        genesis,
                        f.minted,
                        genesis + f.minted,
                        f.mints,
                        allocations,
                        f.created_seq,
                        f.created_at,
                        f.updated_seq,
                        f.updated_at,
                    ],
                )
                continue
            expect_rows(
                con,
                """UPDATE chain SET minted = minted + $1, supply = supply + $1,
                       mints = mints + $2, updated_seq = $3, updated_at = $4
                   WHERE chain_id = $5""",
                [f.minted, f.mints, f.updated_seq, f.updated_at, chain_id],
                1,
                "chain events for a chain never created",
                batch,
            )
