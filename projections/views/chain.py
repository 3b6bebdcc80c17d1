"""``chain``: the chain's treasury and supply (genesis allocations plus mints)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from projections.records import Batch, json_encode
from projections.views.base import View, append_rows, clear, expect_rows

STAGE = "stage_chain"


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
    staging_ddl = (
        f"""CREATE TEMP TABLE IF NOT EXISTS {STAGE} (
            chain_id VARCHAR, treasury VARCHAR, genesis_supply BIGINT, allocations JSON,
            created_seq BIGINT, created_at TIMESTAMPTZ, minted BIGINT, mints BIGINT,
            updated_seq BIGINT, updated_at TIMESTAMPTZ
        )""",
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        folds: dict[str, _Fold] = {}
        for e in batch.of("chain"):
            fold = folds.setdefault(e.aggregate_key, _Fold())
            if e.type == "Chain.Created":
                allocations = e.state.get("allocations") or {}
                fold.created = (
                    e.state["treasury"], sum(allocations.values()),
                    json_encode(allocations).decode(),
                )
                fold.created_seq, fold.created_at = e.seq, e.time
            elif e.type == "Chain.Minted":
                fold.minted += e.state["amount"]
                fold.mints += 1
            fold.updated_seq, fold.updated_at = e.seq, e.time
        if not folds:
            return
        rows = [
            (chain_id, *(f.created or (None, None, None)), f.created_seq, f.created_at,
             f.minted, f.mints, f.updated_seq, f.updated_at)
            for chain_id, f in folds.items()
        ]
        append_rows(con, STAGE, rows)
        created = sum(1 for f in folds.values() if f.created is not None)
        expect_rows(
            con,
            f"""INSERT INTO chain SELECT chain_id, treasury, genesis_supply, minted,
                    genesis_supply + minted, mints, allocations, created_seq, created_at,
                    updated_seq, updated_at
                FROM {STAGE} WHERE created_seq IS NOT NULL""",
            created, "chains created", batch,
        )
        expect_rows(
            con,
            f"""UPDATE chain c SET minted = c.minted + s.minted,
                    supply = c.supply + s.minted, mints = c.mints + s.mints,
                    updated_seq = s.updated_seq, updated_at = s.updated_at
                FROM {STAGE} s WHERE s.created_seq IS NULL AND c.chain_id = s.chain_id""",
            len(folds) - created, "chain events for a chain never created", batch,
        )
        clear(con, [STAGE])
