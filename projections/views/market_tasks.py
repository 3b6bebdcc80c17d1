"""``tasks`` and ``task_participants``: the marketplace's tasks, from the Task events.

Per batch (see market_common.py): the Task events are staged, then one MERGE per table
from a GROUP BY fold: per task, the Published and Closed fields, the last status, joins
and submissions counted; per task and miner, the stake joined, slashed, returned at close.
"""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View
from projections.views.market_common import census, fail, spec, stage, stage_ddl, typed

STAGE = "task_batch"

PUBLISHED = {
    "publisher": "VARCHAR", "title": "VARCHAR", "description": "VARCHAR",
    "task_type": "VARCHAR", "difficulty": "VARCHAR", "reward": "BIGINT",
    "stake_required": "BIGINT", "deadline": "BIGINT", "validation_window": "BIGINT",
    "verification_type": "VARCHAR", "quality_threshold": "INTEGER",
    "max_participants": "INTEGER", "published_at": "BIGINT",
}  # fmt: skip
CLOSED = {
    "at": "BIGINT", "winner": "VARCHAR", "submission_id": "VARCHAR", "payout": "BIGINT",
    "refund": "BIGINT",
}  # fmt: skip

# The status each event leaves a task in.
STATUS = """CASE type WHEN 'Task.Published' THEN 'open'
                      WHEN 'Task.ValidationStarted' THEN 'validating'
                      ELSE data->>'$.status' END"""

# One row per task of the batch: its events folded, the Published and Closed fields typed.
TASK_FOLD = f"""
SELECT task_id, published_seq, status, joined, submitted, updated_seq, p.*,
       c.at AS closed_at, nullif(c.winner, '') AS winner,
       nullif(c.submission_id, '') AS winning_submission, c.payout AS payout,
       c.refund AS refund
FROM (SELECT *, json_transform(published, {spec(PUBLISHED)}) AS p,
             json_transform(closed, {spec(CLOSED)}) AS c
      FROM (SELECT key AS task_id,
                   any_value(data) FILTER (WHERE type = 'Task.Published') AS published,
                   min(seq) FILTER (WHERE type = 'Task.Published') AS published_seq,
                   arg_max({STATUS}, seq) FILTER (WHERE type IN ('Task.Published',
                       'Task.ValidationStarted', 'Task.Closed')) AS status,
                   count(*) FILTER (WHERE type = 'Task.Joined') AS joined,
                   count(*) FILTER (WHERE type = 'Task.SubmissionAdded') AS submitted,
                   any_value(data) FILTER (WHERE type = 'Task.Closed') AS closed,
                   max(seq) AS updated_seq
            FROM {STAGE} GROUP BY key))"""

# One row per task and miner: what the batch did to its stake (Closed.returned unnested).
PARTICIPANT_FOLD = f"""
SELECT key AS task_id, miner, any_value(stake) FILTER (WHERE kind = 'joined') AS stake,
       min(seq) FILTER (WHERE kind = 'joined') AS joined_seq, sum(slashed) AS slashed,
       bool_or(kind = 'slashed') AS was_slashed, sum(returned) AS returned,
       bool_or(kind = 'returned') AS closed
FROM (SELECT key, seq, miner, stake, 0 AS slashed, 0 AS returned, 'joined' AS kind
      FROM {typed(STAGE, "Task.Joined", {"miner": "VARCHAR", "stake": "BIGINT"})}
      UNION ALL
      SELECT key, seq, miner, NULL, amount, 0, 'slashed'
      FROM {typed(STAGE, "Task.StakeSlashed", {"miner": "VARCHAR", "amount": "BIGINT"})}
      UNION ALL
      SELECT key, seq, e.key, NULL, 0, e.value, 'returned'
      FROM (SELECT key, seq,
                   unnest(map_entries(CAST(data->'$.returned' AS MAP(VARCHAR, BIGINT)))) AS e
            FROM {STAGE} WHERE type = 'Task.Closed'))
GROUP BY key, miner"""

PARTICIPANT_STATUS = """CASE WHEN {old} = 'slashed' OR f.was_slashed THEN 'slashed'
                             WHEN f.closed THEN 'returned' ELSE {old} END"""
PARTICIPANT_EVENTS = {"Task.Joined", "Task.StakeSlashed", "Task.Closed"}


class TasksView(View):
    name = "tasks"
    version = 1
    tables = ("tasks", "task_participants")
    ddl = (
        """CREATE TABLE IF NOT EXISTS tasks (
            task_id VARCHAR PRIMARY KEY,   -- the publishing transaction's id
            publisher VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            description VARCHAR NOT NULL,
            task_type VARCHAR NOT NULL,
            difficulty VARCHAR NOT NULL,
            reward_amount BIGINT NOT NULL, -- units, escrowed until the task is final
            stake_required BIGINT NOT NULL,
            deadline BIGINT NOT NULL,      -- unix ms
            validation_window BIGINT NOT NULL,  -- ms after the deadline for votes
            verification_type VARCHAR NOT NULL,
            quality_threshold INTEGER NOT NULL,
            max_participants INTEGER NOT NULL,
            status VARCHAR NOT NULL,       -- open, validating, settled, expired, cancelled
            participants_count INTEGER NOT NULL,
            submissions_count INTEGER NOT NULL,
            winner VARCHAR,                -- NULL: not final, or nobody qualified
            winning_submission VARCHAR,
            payout BIGINT,                 -- to the winner; NULL while not final
            refund BIGINT,                 -- to the publisher; NULL while not final
            published_seq BIGINT NOT NULL,
            published_at BIGINT NOT NULL,  -- the sequencer's clock, unix ms
            updated_seq BIGINT NOT NULL,   -- ledger position of the task's last event
            closed_at BIGINT               -- unix ms; NULL while not final
        )""",
        """CREATE TABLE IF NOT EXISTS task_participants (
            task_id VARCHAR NOT NULL,
            miner VARCHAR NOT NULL,
            stake BIGINT NOT NULL,         -- units staked on joining
            joined_seq BIGINT NOT NULL,
            status VARCHAR NOT NULL,       -- joined, returned (at close), slashed (fraud)
            returned BIGINT NOT NULL,      -- units returned at close
            slashed BIGINT NOT NULL,       -- units slashed to the treasury
            PRIMARY KEY (task_id, miner)
        )""",
        stage_ddl(STAGE),
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        counts = census(batch, "task")
        if not counts:
            return
        stage(con, STAGE, batch, "task")
        con.execute(
            f"""MERGE INTO tasks t USING ({TASK_FOLD}) f ON t.task_id = f.task_id
                WHEN MATCHED THEN UPDATE SET
                    status = coalesce(f.status, t.status),
                    participants_count = t.participants_count + f.joined,
                    submissions_count = t.submissions_count + f.submitted,
                    winner = coalesce(f.winner, t.winner),
                    winning_submission = coalesce(f.winning_submission, t.winning_submission),
                    payout = coalesce(f.payout, t.payout),
                    refund = coalesce(f.refund, t.refund),
                    updated_seq = f.updated_seq,
                    closed_at = coalesce(f.closed_at, t.closed_at)
                WHEN NOT MATCHED AND f.published_seq IS NOT NULL THEN INSERT VALUES (
                    f.task_id, f.publisher, f.title, f.description, f.task_type, f.difficulty,
                    f.reward, f.stake_required, f.deadline, f.validation_window,
                    f.verification_type, f.quality_threshold, f.max_participants, f.status,
                    f.joined, f.submitted, f.winner, f.winning_submission, f.payout, f.refund,
                    f.published_seq, f.published_at, f.updated_seq, f.closed_at)
                WHEN NOT MATCHED THEN {fail("task events for a task never published", "f.task_id")}
            """
        )
        if PARTICIPANT_EVENTS & counts.keys():
            con.execute(
                f"""MERGE INTO task_participants p USING ({PARTICIPANT_FOLD}) f
                    ON p.task_id = f.task_id AND p.miner = f.miner
                    WHEN MATCHED THEN UPDATE SET
                        slashed = p.slashed + f.slashed,
                        returned = p.returned + f.returned,
                        status = {PARTICIPANT_STATUS.format(old="p.status")}
                    WHEN NOT MATCHED AND f.joined_seq IS NOT NULL THEN INSERT VALUES (
                        f.task_id, f.miner, f.stake, f.joined_seq,
                        {PARTICIPANT_STATUS.format(old="'joined'")}, f.returned, f.slashed)
                    WHEN NOT MATCHED THEN {fail("a stake never joined", "f.task_id, ' ', f.miner")}
                """
            )
        con.execute(f"DELETE FROM {STAGE}")
