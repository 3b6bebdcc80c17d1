"""What the demo leaves behind, read back from the node: SQL over the projections for the
tasks, submissions, votes, fraud alert and conservation; the SDK for MinerStats and the
validators' records. ``summary`` is a plain JSON-able dict (``hiveledger demo --json``)."""

from __future__ import annotations

import asyncio
import re
from fractions import Fraction
from math import isqrt
from typing import Any

from domain.consensus import MAX_SD, SCALE, Vote, decide
from gateways.demo.cast import Cast
from gateways.demo.network import Network, PublishedTask
from gateways.demo.voting import Validation
from gateways.sdk.errors import AIError
from gateways.sdk.node_http import NodeHTTP

CONSERVATION_SQL = (
    "SELECT w.total AS wallets, m.locked AS locked, c.supply AS supply, "
    "w.total + m.locked = c.supply AS holds "
    "FROM (SELECT sum(balance) AS total FROM wallets) w, market m, chain c "
    "WHERE m.chain_id = c.chain_id"
)
_HEX = re.compile(r"^[0-9a-f]{64}$")


async def sql(node_url: str, query: str) -> list[dict[str, Any]]:
    """Rows of one read-only query through the node's /v1/sql, as dicts."""
    result = await asyncio.to_thread(NodeHTTP(node_url).sql, query)
    return [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]


def id_list(ids: list[str]) -> str:
    assert all(_HEX.match(i) for i in ids), "ids are transaction ids"
    return ", ".join(f"'{i}'" for i in ids)


# -- the colluders against the median -------------------------------------------------
def _plain(votes: list[Vote]) -> tuple[int, int]:
    """The stake-weighted mean and sd of the raw votes, no clipping (thousandths)."""
    total = sum(v.weight for v in votes)
    mean = Fraction(sum(v.score * v.weight for v in votes), total)
    variance = sum((v.score - mean) ** 2 * v.weight for v in votes) / total
    return int(mean * SCALE), isqrt(int(variance * SCALE * SCALE))


def clipping(cast: Cast, task: dict[str, Any], subs: list[dict[str, Any]],
             votes: list[dict[str, Any]], slashed: bool) -> dict[str, Any] | None:  # fmt: skip
    """How the friend's submission on ``task`` fared: the score the ledger recorded (votes
    clipped to the stake-weighted median), the plain weighted mean of the raw votes (what
    the colluders' 100s aimed at), the honest validators' score, and the best rival."""
    friend = cast.friend.keypair.address
    mine = next((s for s in subs if s["miner"] == friend), None)
    if mine is None:
        return None
    colluders = {v.keypair.address for v in cast.colluders}
    ballots = [Vote(v["validator"], v["score"], v["weight"])
               for v in votes if v["submission_id"] == mine["submission_id"]]  # fmt: skip
    if not ballots:
        return None
    honest = [b for b in ballots if b.validator not in colluders]
    colluding_weight = sum(b.weight for b in ballots if b.validator in colluders)
    share = colluding_weight / sum(b.weight for b in ballots)
    plain_mean, plain_sd = _plain(ballots)
    honest_score = decide(honest).score_milli if honest else 0
    rivals = [s["score_milli"] for s in subs if s["miner"] != friend and s["reached"]
              and s["score_milli"] >= task["quality_threshold"] * SCALE]  # fmt: skip
    best_rival = max(rivals, default=None)
    threshold = task["quality_threshold"] * SCALE

    def beats(score: int) -> bool:
        return score >= threshold and (best_rival is None or score > best_rival)

    won = task["winner"] == friend
    recorded = mine["score_milli"]
    return {
        "task_id": task["task_id"], "title": task["title"],
        "submission_id": mine["submission_id"],
        "colluder_votes": [b.score for b in ballots if b.validator in colluders],
        "colluder_weight_share": round(share, 3), "colluders_hold_median": 2 * share >= 1,
        "median": mine["median"], "score": _points(mine["score_milli"]),
        "lift": None if recorded is None else _points(recorded - honest_score),
        "unclipped_lift": _points(plain_mean - honest_score),
        "unclipped_mean": _points(plain_mean), "unclipped_sd": _points(plain_sd),
        "honest_score": _points(honest_score), "best_rival_score": _points(best_rival),
        "quality_threshold": task["quality_threshold"],
        "unclipped_would_win": beats(plain_mean), "honest_would_win": beats(honest_score),
        "won": won, "disqualified": slashed,
        "won_on_colluder_votes": won and not beats(honest_score),
    }  # fmt: skip


def _points(milli: int | None) -> float | None:
    return None if milli is None else milli / SCALE


# -- gathering --------------------------------------------------------------------------
TASKS_SQL = (
    "SELECT task_id, title, task_type, difficulty, publisher, status, reward_amount, "
    "quality_threshold, participants_count, submissions_count, winner, payout, refund, "
    "deadline, closed_at FROM tasks WHERE task_id IN ({ids}) ORDER BY published_seq"
)
SUBMISSIONS_SQL = (
    "SELECT submission_id, task_id, miner, votes, reached, score_milli, median, won "
    "FROM submissions WHERE task_id IN ({ids}) ORDER BY submitted_seq"
)
VOTES_SQL = "SELECT submission_id, validator, score, weight FROM votes WHERE task_id IN ({ids})"
SLASHED_SQL = (
    "SELECT task_id, miner, slashed FROM task_participants "
    "WHERE task_id IN ({ids}) AND status = 'slashed'"
)

# When the alert was reported and enforced, in seconds before its task's deadline.
FRAUD_SQL = (
    "SELECT f.kind, f.accused, f.status, f.confirmations, f.confirmed_stake, f.slashed, "
    "f.withheld, m.validator_stake, (t.deadline - f.reported_at) / 1000 AS reported_before_s, "
    "(t.deadline - f.enforced_at) / 1000 AS enforced_before_s, "
    "(t.deadline - s.submitted_at) / 1000 AS submitted_before_s "
    "FROM fraud_alerts f JOIN tasks t ON t.task_id = f.task_id "
    "LEFT JOIN submissions s ON s.submission_id = f.submission_id, market m "
    "WHERE f.fraud_id = '{fraud_id}'"
)


async def _task_rows(node: str, ids: str) -> list[list[dict[str, Any]]]:
    """Tasks, submissions, votes and slashed participants of the demo's tasks."""
    queries = (TASKS_SQL, SUBMISSIONS_SQL, VOTES_SQL, SLASHED_SQL)
    return [await sql(node, query.format(ids=ids)) for query in queries]


def _tasks(cast: Cast, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "publisher_name": cast.name_of(row["publisher"]),
             "winner": row["winner"] or None, "winner_name": cast.name_of(row["winner"]),
             "final": row["status"] in ("settled", "expired", "cancelled")}
            for row in rows]  # fmt: skip


async def _miners(net: Network, status: dict[str, dict[str, Any]],
                  ids: set[str]) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    for miner in net.cast.miners:
        address = miner.keypair.address
        auto = status.get(address, {})
        row: dict[str, Any] = {"name": miner.name, "address": address, "friend": miner.friend,
                               "generalist": miner.generalist,
                               "joined": len(ids & set(auto.get("joined", []))),
                               "submitted": len(ids & set(auto.get("submitted", {})))}  # fmt: skip
        try:
            stats = await net.reader.get_miner_stats(address)
        except AIError as error:
            row["error"] = str(error)
        else:
            row.update(reputation_score=stats.reputation_score,
                       tasks_completed=stats.tasks_completed, tasks_failed=stats.tasks_failed,
                       total_earnings=stats.total_earnings, success_rate=stats.success_rate,
                       specializations=[s.value for s in stats.specializations])  # fmt: skip
        out.append(row)
    return out


async def _validators(net: Network) -> list[dict[str, Any]]:
    out = []
    for validator in net.cast.validators:
        row = {"name": validator.name, "colluder": validator.colluder}
        try:
            row.update(await net.reader.validator.get_info(validator.keypair.address))
        except AIError as error:
            row.update(address=validator.keypair.address, error=str(error))
        out.append(row)
    return out


async def _fraud(net: Network, validation: Validation) -> dict[str, Any] | None:
    case = validation.fraud
    if case is None:
        return None
    out: dict[str, Any] = {
        "fraud_id": case.fraud_id or None,
        "error": case.error or None,
        "task_id": case.task_id,
        "submission_id": case.submission_id,
        "reporter": case.reporter,
        "reporter_name": net.cast.name_of(case.reporter),
        "confirmed_by": [net.cast.name_of(a) for a in case.confirmed_by],
    }
    if case.fraud_id:
        rows = await sql(net.node_url, FRAUD_SQL.format(fraud_id=case.fraud_id))
        if rows:
            out.update(rows[0], accused_name=net.cast.name_of(rows[0]["accused"]))
    return out


async def summarise(net: Network, tasks: list[PublishedTask], validation: Validation,
                    auto_status: dict[str, dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    cast, node = net.cast, net.node_url
    ids = id_list([t.task_id for t in tasks])
    task_rows, subs, votes, slashed = await _task_rows(node, ids)
    by_task = {t["task_id"]: t for t in task_rows}
    collusion = [
        report for t in task_rows
        if (report := clipping(
            cast, t, [s for s in subs if s["task_id"] == t["task_id"]], votes,
            any(r["task_id"] == t["task_id"] and r["miner"] == cast.friend.keypair.address
                for r in slashed))) is not None
    ]  # fmt: skip
    status = await net.reader.get_network_status()
    conservation = (await sql(node, CONSERVATION_SQL))[0]
    validator_stake = sum(v.stake for v in cast.validators)
    return {
        "seed": cast.seed, "node": node, "miners_count": len(cast.miners),
        "publishers": [{"name": p.name, "address": p.keypair.address} for p in cast.publishers],
        "tasks": _tasks(cast, task_rows),
        "miners": await _miners(net, auto_status, set(by_task)),
        "validators": await _validators(net),
        "collusion": {
            "friend": cast.friend.keypair.address, "friend_name": cast.friend.name,
            "colluders": [v.keypair.address for v in cast.colluders],
            "colluder_stake_share": round(
                sum(v.stake for v in cast.colluders) / validator_stake, 3),
            "max_sd": MAX_SD, "submissions": collusion,
            "friend_won_on_colluder_votes": any(c["won_on_colluder_votes"] for c in collusion),
        },
        "fraud": await _fraud(net, validation),
        "rewards": {"demo_paid": sum(t["payout"] or 0 for t in task_rows),
                    "network_total": status.total_rewards_distributed},
        "conservation": {**conservation, "sql": CONSERVATION_SQL},
    }  # fmt: skip
