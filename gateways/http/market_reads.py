"""The marketplace's reads over the DuckDB views of docs/MARKET_API.md, in seed 000's shapes.

Blocking (DuckDB): the gateway runs every method in a thread. Every statement takes its
values as parameters; the only SQL assembled here joins constant clauses. A read that
needs several statements runs them in one read transaction, so it sees one snapshot.

Shapes: money in integer units; times in unix SECONDS (the views hold the sequencer's
milliseconds; seed 000's deadlines are seconds, and so is every other time here, for one
rule across the API); scores and confidences as numbers 0-100 and 0-1.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import msgspec

from gateways.http.market_params import FraudQuery, TaskFilters, TaskQuery
from projections import ProjectionDB

ACTIVE = ("open", "validating")
HOUR_MS = 3_600_000
SUMMARY = (
    "task_id, title, task_type, difficulty, reward_amount, deadline, participants_count, "
    "max_participants, publisher, status"
)
DETAILS = (
    "task_id, publisher, title, description, task_type, difficulty, reward_amount, "
    "stake_required, deadline, validation_window, verification_type, quality_threshold, "
    "max_participants, status, participants_count, submissions_count, winner, "
    "winning_submission, payout, refund, published_at, closed_at"
)
SUBMISSION = (
    "submission_id, miner, content_hash, content, content_uri, submitted_at, votes, reached, "
    "score_milli, confidence_milli, won"
)
FRAUD = (
    "fraud_id, reporter, accused, task_id, submission_id, kind, evidence_hash, status, "
    "confirmations, confirmed_stake, slashed, withheld, reported_at, enforced_at"
)
_json = msgspec.json.Decoder()


def seconds(ms: int | None) -> int | None:
    """Unix milliseconds to whole unix seconds (floor); None stays None."""
    return None if ms is None else int(ms) // 1000


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _one(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = _rows(cur, sql, params)
    return rows[0] if rows else None


def _decoded(value: Any) -> Any:
    """A JSON column as its value (DuckDB hands JSON to Python as text)."""
    return _json.decode(value) if isinstance(value, str | bytes) else value


def _or_none(value: str | None) -> str | None:
    return value or None


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """Seed 000's TaskSummary (and the task's status)."""
    return {**row, "deadline": seconds(row["deadline"])}


class MarketReads:
    """The reads behind ai_* JSON-RPC methods and the /v1 marketplace routes."""

    def __init__(self, db: ProjectionDB, chain_id: str) -> None:
        self.db = db
        self.chain_id = chain_id

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.db.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            finally:
                cur.execute("ROLLBACK")

    # -- tasks ------------------------------------------------------------------------
    def tasks(self, query: TaskFilters) -> list[dict[str, Any]]:
        """TaskSummary rows matching seed 000's filters; status ``open`` unless the query
        is a TaskQuery with another status. Soonest deadline first."""
        status = query.status if isinstance(query, TaskQuery) else "open"
        where, params = ["TRUE"], []
        if status != "all":
            where.append("status = ?")
            params.append(status)
        if query.task_type is not None:
            where.append("task_type = ?")
            params.append(str(query.task_type))
        if query.difficulty is not None:
            where.append("difficulty = ?")
            params.append(str(query.difficulty))
        if query.min_reward is not None:
            where.append("reward_amount >= ?")
            params.append(query.min_reward)
        if query.max_reward is not None:
            where.append("reward_amount <= ?")
            params.append(query.max_reward)
        if query.deadline_before is not None:
            where.append("deadline < ?")
            params.append(query.deadline_before * 1000)
        sql = (
            f"SELECT {SUMMARY} FROM tasks WHERE {' AND '.join(where)} "
            "ORDER BY deadline, task_id LIMIT ?"
        )
        with self.db.cursor() as cur:
            return [summary(r) for r in _rows(cur, sql, [*params, query.limit])]

    def my_tasks(self, address: str, limit: int) -> list[dict[str, Any]]:
        """Tasks the address published or joined, any status, soonest deadline first."""
        sql = (
            f"SELECT {SUMMARY} FROM tasks WHERE publisher = ? OR task_id IN "
            "(SELECT task_id FROM task_participants WHERE miner = ?) "
            "ORDER BY deadline, task_id LIMIT ?"
        )
        with self.db.cursor() as cur:
            return [summary(r) for r in _rows(cur, sql, [address, address, limit])]

    def task(self, task_id: str) -> dict[str, Any] | None:
        """Seed 000's TaskDetails, with the task's outcome; None when there is no such task."""
        with self._snapshot() as cur:
            row = _one(cur, f"SELECT {DETAILS} FROM tasks WHERE task_id = ?", [task_id])
            if row is None:
                return None
            joined = _rows(
                cur,
                "SELECT miner FROM task_participants WHERE task_id = ? ORDER BY joined_seq, miner",
                [task_id],
            )
            subs = _rows(
                cur,
                f"SELECT {SUBMISSION} FROM submissions WHERE task_id = ? "
                "ORDER BY submitted_seq, submission_id",
                [task_id],
            )
        return {
            **row,
            "deadline": seconds(row["deadline"]),
            "published_at": seconds(row["published_at"]),
            "closed_at": seconds(row["closed_at"]),
            "winner": _or_none(row["winner"]),
            "winning_submission": _or_none(row["winning_submission"]),
            "participants": [r["miner"] for r in joined],
            "submissions": [_submission(r) for r in subs],
        }

    # -- participants -----------------------------------------------------------------
    def miner(self, address: str) -> dict[str, Any] | None:
        """Seed 000's MinerStats (and the miner's id and skills); None if not registered."""
        with self.db.cursor() as cur:
            row = _one(
                cur,
                "SELECT address, miner_id, skills, specializations, reputation, completed, "
                "failed, earnings, success_rate, registered_at FROM miners WHERE address = ?",
                [address],
            )
        if row is None:
            return None
        return {
            "address": row["address"],
            "reputation_score": row["reputation"],
            "tasks_completed": row["completed"],
            "tasks_failed": row["failed"],
            "total_earnings": row["earnings"],
            "success_rate": float(row["success_rate"] or 0.0),
            "specializations": _decoded(row["specializations"]) or [],
            "miner_id": row["miner_id"],
            "skills": _decoded(row["skills"]) or [],
            "registered_at": seconds(row["registered_at"]),
        }

    def validator(self, address: str) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            row = _one(
                cur,
                "SELECT address, stake, reputation, votes, agreed, outliers, registered_at "
                "FROM validators WHERE address = ?",
                [address],
            )
        if row is not None:
            row["registered_at"] = seconds(row["registered_at"])
        return row

    def fraud_alerts(self, query: FraudQuery) -> list[dict[str, Any]]:
        """Newest first."""
        where, params = ["TRUE"], []
        for column in ("status", "accused", "task_id"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = (
            f"SELECT {FRAUD} FROM fraud_alerts WHERE {' AND '.join(where)} "
            "ORDER BY reported_seq DESC, fraud_id LIMIT ?"
        )
        with self.db.cursor() as cur:
            rows = _rows(cur, sql, [*params, query.limit])
        for row in rows:
            row["submission_id"] = _or_none(row["submission_id"])
            row["reported_at"] = seconds(row["reported_at"])
            row["enforced_at"] = seconds(row["enforced_at"])
        return rows

    # -- the network ------------------------------------------------------------------
    def network_status(self, now_ms: int | None = None) -> dict[str, Any]:
        """Seed 000's NetworkStatus. ``validated_per_hour``: submissions that reached
        consensus in the last hour (they are scored when their task settles); it is also
        reported under seed 000's name ``network_hash_rate``."""
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        sql = """SELECT
            (SELECT count(*) FROM tasks WHERE status IN ('open', 'validating')),
            (SELECT count(DISTINCT p.miner) FROM task_participants p
               JOIN tasks t ON t.task_id = p.task_id
              WHERE t.status IN ('open', 'validating') AND p.status = 'joined'),
            (SELECT coalesce(max(rewards_paid), 0) FROM market WHERE chain_id = ?),
            (SELECT count(*) FROM submissions s JOIN tasks t ON t.task_id = s.task_id
              WHERE s.reached AND t.closed_at > ?)"""
        with self.db.cursor() as cur:
            cur.execute(sql, [self.chain_id, now - HOUR_MS])
            row = cur.fetchone()
        active, miners, rewards, validated = (int(v or 0) for v in row or (0, 0, 0, 0))
        return {
            "active_tasks": active,
            "active_miners": miners,
            "total_rewards_distributed": rewards,
            "network_hash_rate": float(validated),
            "validated_per_hour": validated,
        }

    def market(self) -> dict[str, Any] | None:
        """The market's totals: locked, validator_stake, rewards_paid, validated, open_tasks."""
        with self.db.cursor() as cur:
            return _one(
                cur,
                "SELECT locked, validator_stake, rewards_paid, validated, open_tasks, "
                "updated_seq FROM market WHERE chain_id = ?",
                [self.chain_id],
            )


def _submission(row: dict[str, Any]) -> dict[str, Any]:
    """A submission in TaskDetails: ``reached``, ``score`` (0-100) and ``confidence`` (0-1)
    are None until the task settles and scores it."""
    scored = row["reached"] is not None
    return {
        "submission_id": row["submission_id"],
        "miner": row["miner"],
        "content_hash": row["content_hash"],
        "content": row["content"],
        "content_uri": row["content_uri"],
        "submitted_at": seconds(row["submitted_at"]),
        "votes": row["votes"],
        "reached": row["reached"],
        "score": row["score_milli"] / 1000 if scored and row["score_milli"] is not None else None,
        "confidence": row["confidence_milli"] / 1000
        if scored and row["confidence_milli"] is not None
        else None,
        "won": bool(row["won"]),
    }
