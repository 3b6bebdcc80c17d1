"""``fraud_alerts``: reported, confirmed by validators' stake, enforced (slash, withhold)."""

from __future__ import annotations

import duckdb

from projections.records import Batch
from projections.views.base import View
from projections.views.market_common import census, fail, spec, stage, stage_ddl

STAGE = "fraud_batch"

REPORTED = {
    "reporter": "VARCHAR", "accused": "VARCHAR", "task_id": "VARCHAR",
    "submission_id": "VARCHAR", "kind": "VARCHAR", "evidence_hash": "VARCHAR",
    "reported_at": "BIGINT",
}  # fmt: skip
ENFORCED = {"slashed": "BIGINT", "withheld": "BOOLEAN", "at": "BIGINT"}


# One row per alert of the batch: Reported and Enforced typed, confirmations summed.
FOLD = f"""
SELECT fraud_id, reported_seq, confirmations, confirmed_stake, r.*, e.slashed AS slashed,
       e.withheld AS withheld, e.at AS enforced_at,
       CASE WHEN enforced IS NOT NULL THEN 'confirmed' END AS status
FROM (SELECT *, json_transform(reported, {spec(REPORTED)}) AS r,
             json_transform(enforced, {spec(ENFORCED)}) AS e
      FROM (SELECT key AS fraud_id,
                   any_value(data) FILTER (WHERE type = 'FraudAlert.Reported') AS reported,
                   min(seq) FILTER (WHERE type = 'FraudAlert.Reported') AS reported_seq,
                   count(*) FILTER (WHERE type = 'FraudAlert.ConfirmedBy') AS confirmations,
                   coalesce(sum(CAST(data->>'$.stake' AS BIGINT))
                       FILTER (WHERE type = 'FraudAlert.ConfirmedBy'), 0) AS confirmed_stake,
                   any_value(data) FILTER (WHERE type = 'FraudAlert.Enforced') AS enforced
            FROM {STAGE} GROUP BY key))"""


class FraudAlertsView(View):
    name = "fraud_alerts"
    version = 1
    tables = ("fraud_alerts",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS fraud_alerts (
            fraud_id VARCHAR PRIMARY KEY,     -- the reporting transaction's id
            reporter VARCHAR NOT NULL,
            accused VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            submission_id VARCHAR NOT NULL,   -- '' when the report names none
            kind VARCHAR NOT NULL,            -- plagiarism, duplicate_submission, ...
            evidence_hash VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- open, confirmed
            confirmations INTEGER NOT NULL,
            confirmed_stake BIGINT NOT NULL,  -- validator stake that confirmed it
            slashed BIGINT NOT NULL,          -- units of the accused's stake slashed
            withheld BOOLEAN,                 -- payout withheld; NULL until enforced
            reported_seq BIGINT NOT NULL,
            reported_at BIGINT NOT NULL,      -- the sequencer's clock, unix ms
            enforced_at BIGINT                -- unix ms; NULL until enforced
        )""",
        stage_ddl(STAGE),
    )

    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        if not census(batch, "fraud"):
            return
        stage(con, STAGE, batch, "fraud")
        con.execute(
            f"""MERGE INTO fraud_alerts a USING ({FOLD}) f ON a.fraud_id = f.fraud_id
                WHEN MATCHED THEN UPDATE SET
                    status = coalesce(f.status, a.status),
                    confirmations = a.confirmations + f.confirmations,
                    confirmed_stake = a.confirmed_stake + f.confirmed_stake,
                    slashed = a.slashed + coalesce(f.slashed, 0),
                    withheld = coalesce(f.withheld, a.withheld),
                    enforced_at = coalesce(f.enforced_at, a.enforced_at)
                WHEN NOT MATCHED AND f.reported_seq IS NOT NULL THEN INSERT VALUES (
                    f.fraud_id, f.reporter, f.accused, f.task_id, f.submission_id, f.kind,
                    f.evidence_hash, coalesce(f.status, 'open'), f.confirmations,
                    f.confirmed_stake, coalesce(f.slashed, 0), f.withheld, f.reported_seq,
                    f.reported_at, f.enforced_at)
                WHEN NOT MATCHED THEN {
                fail("fraud alert events for an alert never reported", "f.fraud_id")
            }
            """
        )
        con.execute(f"DELETE FROM {STAGE}")
