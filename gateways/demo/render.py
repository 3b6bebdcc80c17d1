"""The demo's summary as rich tables (``--json`` prints the dict instead)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from domain.money import format_units

QUERIES = (
    "SELECT title, status, winner, payout FROM tasks ORDER BY published_seq DESC LIMIT 10",
    "SELECT validator, avg(score) AS mean, count(*) AS votes FROM votes GROUP BY validator",
    "SELECT kind, status, slashed, withheld FROM fraud_alerts",
)


def _tokens(units: int | None) -> str:
    return "" if units is None else format_units(int(units))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return table


def _short(task_type: str) -> str:
    return task_type.split("_")[0]


def _tasks(summary: dict[str, Any]) -> Table:
    rows = [[t["title"], f"{_short(t['task_type'])}/{t['difficulty']}", t["status"],
             f"{t['participants_count']}/{t['submissions_count']}", t["winner_name"] or "-",
             _tokens(t["payout"]), _tokens(t["refund"])]
            for t in summary["tasks"]]  # fmt: skip
    return _table("Tasks", ["task", "type/difficulty", "status", "joined/subm.", "winner",
                            "payout", "refund"], rows)  # fmt: skip


def _miners(summary: dict[str, Any]) -> Table:
    rows = [[m["name"] + (" (friend)" if m["friend"] else ""), m.get("reputation_score"),
             m.get("tasks_completed"), m.get("tasks_failed"), _tokens(m.get("total_earnings")),
             f"{m.get('success_rate', 0):.0%}", f"{m['joined']}/{m['submitted']}",
             "any" if m["generalist"] else ",".join(map(_short, m.get("specializations", [])))]
            for m in summary["miners"]]  # fmt: skip
    columns = ["miner", "reputation", "completed", "failed", "earnings", "success",
               "joined/subm.", "takes"]  # fmt: skip
    return _table("MinerStats (all runs on this node)", columns, rows)


def _validators(summary: dict[str, Any]) -> Table:
    rows = [[v["name"], "colluder" if v["colluder"] else "honest", _tokens(v.get("stake")),
             v.get("votes"), v.get("agreed"), v.get("outliers"), v.get("reputation")]
            for v in summary["validators"]]  # fmt: skip
    return _table("Validators", ["validator", "role", "stake", "votes", "agreed", "outliers",
                                 "reputation"], rows)  # fmt: skip


def _outcome(s: dict[str, Any]) -> str:
    if s["won"]:
        return "WON on colluder votes" if s["won_on_colluder_votes"] else "won on merit"
    return "disqualified" if s["disqualified"] else "lost"


def _collusion(summary: dict[str, Any]) -> Table:
    c = summary["collusion"]
    rows = [[s["title"], s["median"], s["score"], s["honest_score"], _signed(s["lift"]),
             s["unclipped_mean"], s["best_rival_score"], _outcome(s)]
            for s in c["submissions"]]  # fmt: skip
    title = (
        f"Collusion: two validators ({c['colluder_stake_share']:.0%} of the demo's "
        f"validator stake) vote {c['friend_name']} 100, clipped to the median"
    )
    return _table(title, ["task", "median", "recorded", "honest only", "lift", "raw mean",
                          "best rival", "friend"], rows)  # fmt: skip


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def _collusion_verdict(c: dict[str, Any]) -> str:
    subs = c["submissions"]
    captured = [s for s in subs if s["colluders_hold_median"]]
    if captured:
        return (f"[red]The colluders cast {captured[0]['colluder_weight_share']:.0%} of the "
                f"stake that voted on '{captured[0]['title']}': the median is theirs, and "
                "clipping to it cannot stop them.[/red]")  # fmt: skip
    if c["friend_won_on_colluder_votes"]:
        won = next(s for s in subs if s["won_on_colluder_votes"])
        return (f"[red]Clipping was not enough on '{won['title']}': the colluders' votes, "
                f"clipped to the median {won['median']}, still lifted {c['friend_name']} by "
                f"{won['lift']:+.2f} to {won['score']}, past the best rival "
                f"({won['best_rival_score']}).[/red]")  # fmt: skip
    lifts = [s["lift"] for s in subs if s["lift"] is not None]
    raw = [s["unclipped_lift"] for s in subs]
    would = [f"'{s['title']}'" for s in subs if s["unclipped_would_win"] and not s["won"]]
    enough = f", enough to win {', '.join(would)}" if would else ""
    return (
        f"Clipping held: counted at the median, the colluders' 100s lifted "
        f"{c['friend_name']} by at most {max(lifts, default=0):+.2f} points (a plain "
        f"stake-weighted mean: up to {max(raw, default=0):+.2f}{enough}); the friend "
        "won nothing on their votes."
    )


def _fraud_verdict(fraud: dict[str, Any] | None) -> str:
    if fraud is None:
        return "No fraud report (the friend submitted nothing to expose)."
    if fraud.get("error"):
        return f"[yellow]The fraud report did not go through: {fraud['error']}[/yellow]"
    if fraud.get("status") != "confirmed":
        return (
            f"[yellow]Fraud alert {fraud.get('status')}: its confirmations hold "
            f"{_tokens(fraud.get('confirmed_stake'))} of "
            f"{_tokens(fraud.get('validator_stake'))} tokens of validator stake on the "
            "node, not more than half (earlier runs' validators count too).[/yellow]"
        )
    payout = "withheld" if fraud["withheld"] else "not withheld (the task was already final)"
    return (f"Fraud alert ({fraud['kind']}) by {fraud['reporter_name']} against "
            f"{fraud['accused_name']}: confirmed by {', '.join(fraud['confirmed_by'])} "
            f"({_tokens(fraud['confirmed_stake'])} of {_tokens(fraud['validator_stake'])} "
            f"tokens of validator stake); stake slashed {_tokens(fraud['slashed'])} tokens, "
            f"payout {payout}.")  # fmt: skip


def _verdicts(summary: dict[str, Any]) -> list[str]:
    lines = [_fraud_verdict(summary.get("fraud"))]
    if summary["collusion"]["submissions"]:
        lines.insert(0, _collusion_verdict(summary["collusion"]))
    return lines


def _totals(summary: dict[str, Any]) -> list[str]:
    rewards, cons = summary["rewards"], summary["conservation"]
    holds = "[green]holds[/green]" if cons["holds"] else "[red]BROKEN[/red]"
    final = sum(1 for t in summary["tasks"] if t["final"])
    return [
        f"Rewards paid by this demo: {_tokens(rewards['demo_paid'])} tokens "
        f"(network total {_tokens(rewards['network_total'])}).",
        f"Conservation (SQL): wallets {_tokens(cons['wallets'])} + market.locked "
        f"{_tokens(cons['locked'])} = supply {_tokens(cons['supply'])}: {holds}.",
        f"{final} of {len(summary['tasks'])} tasks final in {summary['elapsed_s']} s "
        f"(seed {summary['seed']}; --seed {summary['seed']} gives the same keys and votes).",
    ]


def render(summary: dict[str, Any], console: Console) -> None:
    for table in (_tasks(summary), _miners(summary), _validators(summary)):
        console.print(table)
    if summary["collusion"]["submissions"]:
        console.print(_collusion(summary))
    for line in (*_verdicts(summary), *_totals(summary)):
        console.print(line, highlight=False)
    console.print("Query it yourself, e.g.:", highlight=False)
    for query in QUERIES:
        console.print(Text(f'  hiveledger sql "{query}"'), highlight=False)
