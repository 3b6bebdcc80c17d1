"""``miners`` and ``validators``: who registered, and the record of how they did.

Reputation starts at the domain's START_REPUTATION and moves by each event's
``reputation_delta``, floored at 0 after every step as the domain does; a batch's deltas
apply in one statement (see ``reputation`` in market_common.py).
"""

from __future__ import annotations

import duckdb

from domain.participants import START_REPUTATION
from projections.records import Batch
from projections.views.base import View
from projections.views.market_common import (
    REP_FOLD,
    census,
    fail,
    rep_run,
    reputation,
    spec,
    stage,
    stage_ddl,
)

STAGE = "participant_batch"

MINER = {
    "miner_id": "VARCHAR", "skills": "JSON", "specializations": "JSON", "contact": "JSON",
    "registered_at": "BIGINT",
}  # fmt: skip
SUCCESS_RATE = "coalesce(CAST({c} AS DOUBLE) / nullif({c} + {f}, 0), 0)"


def _events(prefix: str, columns: str) -> str:
    """One aggregate type's staged events with ``columns``, the reputation delta and its
    running sum."""
    return f"""SELECT *, {rep_run("delta")} FROM (
                   SELECT key, seq, type, data, {columns},
                          coalesce(CAST(data->>'$.reputation_delta' AS BIGINT), 0) AS delta
                   FROM {STAGE} WHERE type LIKE '{prefix}.%')"""


MINER_FOLD = f"""
SELECT address, registered_seq, completed, failed, earnings, rep_sum, rep_low, r.*
FROM (SELECT *, json_transform(registered, {spec(MINER)}) AS r
      FROM (SELECT key AS address,
                   any_value(data) FILTER (WHERE type = 'Miner.Registered') AS registered,
                   min(seq) FILTER (WHERE type = 'Miner.Registered') AS registered_seq,
                   count(*) FILTER (WHERE type = 'Miner.TaskCompleted') AS completed,
                   count(*) FILTER (WHERE type = 'Miner.TaskFailed') AS failed,
                   coalesce(sum(earned), 0) AS earnings, {REP_FOLD}
            FROM ({_events("Miner", "CAST(data->>'$.earned' AS BIGINT) AS earned")})
            GROUP BY key))"""

VALIDATOR_FOLD = f"""
SELECT key AS address,
       any_value(CAST(data->>'$.stake' AS BIGINT))
           FILTER (WHERE type = 'Validator.Registered') AS stake,
       any_value(CAST(data->>'$.registered_at' AS BIGINT))
           FILTER (WHERE type = 'Validator.Registered') AS registered_at,
       min(seq) FILTER (WHERE type = 'Validator.Registered') AS registered_seq,
       count(*) FILTER (WHERE type = 'Validator.VoteCast') AS votes,
       coalesce(sum(agreed), 0) AS agreed, coalesce(sum(outliers), 0) AS outliers, {REP_FOLD}
FROM ({
    _events(
        "Validator",
        '''CAST(data->>'$.agreed' AS BIGINT) AS agreed,
                                CAST(data->>'$.outliers' AS BIGINT) AS outliers''',
    )
})
GROUP BY key"""


class ParticipantsView(View):
    name = "participants"
    version = 1
    tables = ("miners", "validators")
    ddl = (
        """CREATE TABLE IF NOT EXISTS miners (
            address VARCHAR PRIMARY KEY,
            miner_id VARCHAR NOT NULL,
            skills JSON,
            specializations JSON,
            contact JSON,
            reputation INTEGER NOT NULL,
            completed INTEGER NOT NULL,      -- tasks won
            failed INTEGER NOT NULL,         -- tasks joined and settled without winning
            earnings BIGINT NOT NULL,        -- units won
            success_rate DOUBLE NOT NULL,    -- completed / (completed + failed); 0: none
            registered_seq BIGINT NOT NULL,
            registered_at BIGINT NOT NULL    -- the sequencer's clock, unix ms
        )""",
        """CREATE TABLE IF NOT EXISTS validators (
            address VARCHAR PRIMARY KEY,
            stake BIGINT NOT NULL,           -- units locked while registered; weighs votes
            reputation INTEGER NOT NULL,
            votes INTEGER NOT NULL,
            agreed INTEGER NOT NULL,         -- votes near a reached consensus
            outliers INTEGER NOT NULL,       -- votes far from it
            registered_seq BIGINT NOT NULL,
            registered_at BIGINT NOT NULL
        )""",
        stage_ddl(STAGE),
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        counts = census(batch, "miner", "validator")
        if not counts:
            return
        stage(con, STAGE, batch, "miner", "validator")
        if any(t.startswith("Miner.") for t in counts):
            self._miners(con)
        if any(t.startswith("Validator.") for t in counts):
            self._validators(con)
        con.execute(f"DELETE FROM {STAGE}")

    def _miners(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            f"""MERGE INTO miners m USING ({MINER_FOLD}) f ON m.address = f.address
                WHEN MATCHED THEN UPDATE SET
                    reputation = {reputation("m.reputation", "f")},
                    completed = m.completed + f.completed,
                    failed = m.failed + f.failed,
                    earnings = m.earnings + f.earnings,
                    success_rate = {
                SUCCESS_RATE.format(c="(m.completed + f.completed)", f="(m.failed + f.failed)")
            }
                WHEN NOT MATCHED AND f.registered_seq IS NOT NULL THEN INSERT VALUES (
                    f.address, f.miner_id, f.skills, f.specializations, f.contact,
                    {reputation(str(START_REPUTATION), "f")}, f.completed, f.failed,
                    f.earnings, {SUCCESS_RATE.format(c="f.completed", f="f.failed")},
                    f.registered_seq, f.registered_at)
                WHEN NOT MATCHED THEN {
                fail("miner events for a miner never registered", "f.address")
            }
            """
        )

    def _validators(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            f"""MERGE INTO validators v USING ({VALIDATOR_FOLD}) f ON v.address = f.address
                WHEN MATCHED THEN UPDATE SET
                    reputation = {reputation("v.reputation", "f")},
                    votes = v.votes + f.votes,
                    agreed = v.agreed + f.agreed,
                    outliers = v.outliers + f.outliers
                WHEN NOT MATCHED AND f.registered_seq IS NOT NULL THEN INSERT VALUES (
                    f.address, f.stake, {reputation(str(START_REPUTATION), "f")}, f.votes,
                    f.agreed, f.outliers, f.registered_seq, f.registered_at)
                WHEN NOT MATCHED THEN {
                fail("validator events for a validator never registered", "f.address")
            }
            """
        )
