"""``market``: the money the marketplace holds (escrow, task stakes, validator stakes) and
its totals, one row per chain; ``market_due``: the tasks not final yet and when the
sequencer's clock looks at each next (the Market aggregate's ``due``).

Conservation, in SQL: ``sum(wallets.balance) + market.locked = chain.supply``.
"""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View
from projections.views.market_common import census, fail, stage, stage_ddl

STAGE = "market_batch"

# Per chain: the batch's locks and releases summed.
FOLD = f"""
SELECT key AS chain_id, min(seq) FILTER (WHERE type = 'Market.Opened') AS opened_seq,
       coalesce(sum(CASE type WHEN 'Market.Locked' THEN amount
                              WHEN 'Market.Released' THEN -amount END), 0) AS locked,
       coalesce(sum(amount) FILTER (WHERE validator), 0) AS validator_stake,
       coalesce(sum(rewards), 0) AS rewards, coalesce(sum(validated), 0) AS validated,
       max(seq) AS updated_seq
FROM (SELECT key, seq, type, CAST(data->>'$.amount' AS BIGINT) AS amount,
             CAST(data->>'$.validator' AS BOOLEAN) AS validator,
             CAST(data->>'$.rewards' AS BIGINT) AS rewards,
             CAST(data->>'$.validated' AS BIGINT) AS validated
      FROM {STAGE})
GROUP BY key"""

# Per task: the batch's last TaskDue or TaskFinal decides (due then, or gone).
# arg_max skips NULLs (a TaskFinal has no ``at``): due_at is the last TaskDue's.
DUE_FOLD = f"""
SELECT key AS chain_id, data->>'$.task_id' AS task_id,
       arg_max(type, seq) = 'Market.TaskFinal' AS final,
       bool_or(type = 'Market.TaskDue') AS due_here,
       arg_max(CAST(data->>'$.at' AS BIGINT), seq) AS due_at, max(seq) AS seq
FROM {STAGE} WHERE type IN ('Market.TaskDue', 'Market.TaskFinal')
GROUP BY key, data->>'$.task_id'"""

OPEN_TASKS = "(SELECT count(*) FROM market_due d WHERE d.chain_id = f.chain_id)"


class MarketView(View):
    name = "market"
    version = 1
    tables = ("market", "market_due")
    ddl = (
        """CREATE TABLE IF NOT EXISTS market (
            chain_id VARCHAR PRIMARY KEY,
            locked BIGINT NOT NULL,          -- units: escrow + task stakes + validator stakes
            validator_stake BIGINT NOT NULL, -- of which validators' stakes
            rewards_paid BIGINT NOT NULL,    -- units paid to winners
            validated BIGINT NOT NULL,       -- submissions that reached consensus
            open_tasks INTEGER NOT NULL,     -- tasks not final yet (open or validating)
            updated_seq BIGINT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS market_due (
            chain_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            due_at BIGINT NOT NULL,          -- unix ms: deadline, then end of validation
            seq BIGINT NOT NULL,
            PRIMARY KEY (chain_id, task_id)
        )""",
        stage_ddl(STAGE),
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        counts = census(batch, "market")
        if not counts:
            return
        stage(con, STAGE, batch, "market")
        if counts["Market.TaskDue"] or counts["Market.TaskFinal"]:
            con.execute(
                f"""MERGE INTO market_due d USING ({DUE_FOLD}) f
                    ON d.chain_id = f.chain_id AND d.task_id = f.task_id
                    WHEN MATCHED AND f.final THEN DELETE
                    WHEN MATCHED THEN UPDATE SET due_at = f.due_at, seq = f.seq
                    WHEN NOT MATCHED AND NOT f.final THEN INSERT VALUES (
                        f.chain_id, f.task_id, f.due_at, f.seq)
                    WHEN NOT MATCHED AND f.due_here THEN DO NOTHING  -- due and final here
                    WHEN NOT MATCHED THEN {fail("a task final that was never due", "f.task_id")}
                """
            )
        con.execute(
            f"""MERGE INTO market m USING ({FOLD}) f ON m.chain_id = f.chain_id
                WHEN MATCHED THEN UPDATE SET
                    locked = m.locked + f.locked,
                    validator_stake = m.validator_stake + f.validator_stake,
                    rewards_paid = m.rewards_paid + f.rewards,
                    validated = m.validated + f.validated,
                    open_tasks = {OPEN_TASKS},
                    updated_seq = f.updated_seq
                WHEN NOT MATCHED AND f.opened_seq IS NOT NULL THEN INSERT VALUES (
                    f.chain_id, f.locked, f.validator_stake, f.rewards, f.validated,
                    {OPEN_TASKS}, f.updated_seq)
                WHEN NOT MATCHED THEN {
                fail("market events for a market never opened", "f.chain_id")
            }
            """
        )
        con.execute(f"DELETE FROM {STAGE}")
