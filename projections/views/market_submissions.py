"""``submissions`` and ``votes``: miners' solutions and the validators' votes on them.

One view for both: a vote names its submission only, and takes its task from the
submissions table, which this view writes first in the same transaction. ``won`` comes
from the task's Closed event: set for every submission of the task when it settles.
"""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View, expect_rows
from projections.views.market_common import census, fail, spec, stage, stage_ddl, typed

STAGE = "submission_batch"

SUBMITTED = {
    "task_id": "VARCHAR", "miner": "VARCHAR", "content_hash": "VARCHAR",
    "content": "VARCHAR", "content_uri": "VARCHAR", "submitted_at": "BIGINT",
}  # fmt: skip
SCORED = {
    "reached": "BOOLEAN", "score_milli": "BIGINT", "sd_milli": "BIGINT",
    "confidence_milli": "BIGINT", "median": "INTEGER",
}  # fmt: skip
VOTED = {"validator": "VARCHAR", "score": "INTEGER", "weight": "BIGINT"}

# One row per submission of the batch: Submitted and the last Scored typed, votes counted.
FOLD = f"""
SELECT submission_id, submitted_seq, votes, scored_seq, s.*, r.*
FROM (SELECT *, json_transform(submitted, {spec(SUBMITTED)}) AS s,
             json_transform(scored, {spec(SCORED)}) AS r
      FROM (SELECT key AS submission_id,
                   any_value(data) FILTER (WHERE type = 'Submission.Submitted') AS submitted,
                   min(seq) FILTER (WHERE type = 'Submission.Submitted') AS submitted_seq,
                   count(*) FILTER (WHERE type = 'Submission.Voted') AS votes,
                   arg_max(data, seq) FILTER (WHERE type = 'Submission.Scored') AS scored,
                   max(seq) FILTER (WHERE type = 'Submission.Scored') AS scored_seq
            FROM {STAGE} WHERE type LIKE 'Submission.%' GROUP BY key))"""


class SubmissionsView(View):
    name = "submissions"
    version = 1
    tables = ("submissions", "votes")
    ddl = (
        """CREATE TABLE IF NOT EXISTS submissions (
            submission_id VARCHAR PRIMARY KEY,  -- the submitting transaction's id
            task_id VARCHAR NOT NULL,
            miner VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,      -- hex SHA-256 of the content
            content VARCHAR NOT NULL,           -- inline content ('' when by reference)
            content_uri VARCHAR NOT NULL,
            submitted_at BIGINT NOT NULL,       -- the sequencer's clock, unix ms
            submitted_seq BIGINT NOT NULL,
            votes INTEGER NOT NULL,
            reached BOOLEAN,                    -- consensus reached; NULL until scored
            score_milli BIGINT,                 -- consensus score, thousandths of a point
            sd_milli BIGINT,
            confidence_milli BIGINT,            -- 0..1000
            median INTEGER,                     -- stake-weighted median of the raw votes
            scored_seq BIGINT,                  -- scored at settlement; NULL until then
            won BOOLEAN                         -- NULL until its task is settled
        )""",
        """CREATE TABLE IF NOT EXISTS votes (
            submission_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            validator VARCHAR NOT NULL,
            score INTEGER NOT NULL,             -- 0..100
            weight BIGINT NOT NULL,             -- the validator's stake when it voted
            seq BIGINT NOT NULL,
            time TIMESTAMPTZ,                   -- the vote event's timestamp
            PRIMARY KEY (submission_id, validator)
        )""",
        stage_ddl(STAGE),
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        counts = census(batch, "submission", "task")
        closed = counts["Task.Closed"]
        submissions = any(t.startswith("Submission.") for t in counts)
        if not closed and not submissions:
            return
        stage(con, STAGE, batch, "submission", "task")
        if submissions:
            self._merge(con)
        if counts["Submission.Voted"]:
            expect_rows(
                con,
                f"""INSERT INTO votes
                    SELECT v.key, s.task_id, v.validator, v.score, v.weight, v.seq,
                           CAST(v.data->>'$.timestamp._data_' AS TIMESTAMPTZ)
                    FROM {typed(STAGE, "Submission.Voted", VOTED)} v
                    JOIN submissions s ON s.submission_id = v.key""",
                None,
                counts["Submission.Voted"],
                "votes on submissions never submitted",
                batch,
            )
        if closed:
            con.execute(
                f"""UPDATE submissions s SET won = (s.submission_id = c.submission_id)
                    FROM {typed(STAGE, "Task.Closed", {"submission_id": "VARCHAR"})} c
                    WHERE s.task_id = c.key"""
            )
        con.execute(f"DELETE FROM {STAGE}")

    def _merge(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            f"""MERGE INTO submissions t USING ({FOLD}) f ON t.submission_id = f.submission_id
                WHEN MATCHED THEN UPDATE SET
                    votes = t.votes + f.votes,
                    reached = coalesce(f.reached, t.reached),
                    score_milli = coalesce(f.score_milli, t.score_milli),
                    sd_milli = coalesce(f.sd_milli, t.sd_milli),
                    confidence_milli = coalesce(f.confidence_milli, t.confidence_milli),
                    median = coalesce(f.median, t.median),
                    scored_seq = coalesce(f.scored_seq, t.scored_seq)
                WHEN NOT MATCHED AND f.submitted_seq IS NOT NULL THEN INSERT VALUES (
                    f.submission_id, f.task_id, f.miner, f.content_hash, f.content,
                    f.content_uri, f.submitted_at, f.submitted_seq, f.votes, f.reached,
                    f.score_milli, f.sd_milli, f.confidence_milli, f.median, f.scored_seq,
                    NULL)
                WHEN NOT MATCHED THEN {
                fail("submission events for a submission never submitted", "f.submission_id")
            }
            """
        )
