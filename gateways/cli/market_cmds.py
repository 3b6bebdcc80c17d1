"""task, miner, validator, fraud: the marketplace from the command line (JSON-RPC)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import typer

from domain.money import format_units, parse_tokens
from gateways.cli import auto_cmd
from gateways.cli.common import (
    JsonOption,
    NodeOption,
    console,
    emit,
    errors_reported,
    home,
    node,
    password,
    table,
)
from gateways.cli.ledger_cmds import resolve_address
from gateways.sdk.transactions import sign
from streams import wire_market as wm
from streams.keys import Keypair
from streams.keystore import Keystore

task_app = typer.Typer(help="Publish, list, show and cancel tasks.", no_args_is_help=True)
miner_app = typer.Typer(
    help="Register as a miner, join tasks, submit, stats.", no_args_is_help=True
)
validator_app = typer.Typer(help="Register as a validator and vote.", no_args_is_help=True)
fraud_app = typer.Typer(help="Report and confirm fraud.", no_args_is_help=True)

FromOption = typer.Option(..., "--from", help="Wallet name in the keystore (signs locally).")


def _write(
    node_url: str, signer: str, method: str, kind: type[Any], as_json: bool, **fields: Any
) -> dict[str, Any]:
    """Sign ``kind`` locally with the keystore wallet ``signer`` and send it by JSON-RPC."""
    keypair: Keypair = Keystore(home()).load(signer, password())
    client = node(node_url)
    chain_id = client.rpc("ai_getChainInfo")["chain_id"]
    nonce = client.rpc("ai_getBalance", {"address": keypair.address})["next_nonce"]
    _, envelope = sign(keypair, kind, chain_id=chain_id, nonce=nonce, **fields)
    result: dict[str, Any] = client.rpc(method, {"envelope": envelope.decode(), "wait": True})
    emit(
        result,
        as_json,
        lambda r: console.print("  ".join(f"{k}={v}" for k, v in r.items()), highlight=False),
    )
    return result


def _run(fn: Any) -> Any:
    with errors_reported():
        return fn()


# -- tasks ---------------------------------------------------------------------------


@task_app.command("publish")
def task_publish(
    signer: str = FromOption,
    title: str = typer.Option(..., "--title"),
    description: str = typer.Option("", "--description"),
    task_type: wm.TaskType = typer.Option(wm.TaskType.GENERAL_TASK, "--type"),
    difficulty: wm.DifficultyLevel = typer.Option(wm.DifficultyLevel.BEGINNER, "--difficulty"),
    reward: str = typer.Option(..., "--reward", help="Tokens, escrowed at once."),
    stake: str = typer.Option("0", "--stake", help="Stake each miner must lock, in tokens."),
    deadline_s: int = typer.Option(3600, "--deadline-in", help="Seconds from now."),
    window_s: int = typer.Option(600, "--validation-window", help="Seconds for votes after."),
    verification: wm.VerificationType = typer.Option(
        wm.VerificationType.PEER_REVIEW, "--verification"
    ),
    threshold: int = typer.Option(60, "--quality-threshold", min=0, max=100),
    max_participants: int = typer.Option(10, "--max-participants", min=1, max=100),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Publish a task; its reward is escrowed from your balance."""
    stake_units = 0 if stake.strip() in ("0", "0.0") else parse_tokens(stake)
    _run(lambda: _write(
        node_url, signer, "ai_publishTask", wm.TaskPublish, as_json, title=title,
        description=description, task_type=task_type, difficulty=difficulty,
        reward_amount=parse_tokens(reward), stake_required=stake_units,
        deadline=int(time.time() * 1000) + deadline_s * 1000,
        validation_window=window_s * 1000, verification_type=verification,
        quality_threshold=threshold, max_participants=max_participants,
    ))  # fmt: skip


@task_app.command("cancel")
def task_cancel(
    task_id: str = typer.Argument(...), signer: str = FromOption,
    node_url: str = NodeOption, as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Cancel your open task with no submissions; the escrow comes back."""
    _run(lambda: _write(node_url, signer, "ai_cancelTask", wm.TaskCancel, as_json, task_id=task_id))


@task_app.command("list")
def task_list(
    task_type: str = typer.Option(None, "--type"),
    difficulty: str = typer.Option(None, "--difficulty"),
    min_reward: str = typer.Option(None, "--min-reward", help="Tokens."),
    max_reward: str = typer.Option(None, "--max-reward", help="Tokens."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Active tasks, with seed 000's filters."""
    filters: dict[str, Any] = {}
    if task_type:
        filters["task_type"] = task_type
    if difficulty:
        filters["difficulty"] = difficulty
    if min_reward:
        filters["min_reward"] = parse_tokens(min_reward)
    if max_reward:
        filters["max_reward"] = parse_tokens(max_reward)
    tasks = _run(lambda: node(node_url).rpc("ai_listActiveTasks", {"filters": filters})["tasks"])
    emit(tasks, as_json, lambda rows: table(
        [{**t, "reward": format_units(t["reward_amount"])} for t in rows],
        ["task_id", "title", "task_type", "difficulty", "reward", "participants_count",
         "max_participants", "deadline"],
    ))  # fmt: skip


@task_app.command("show")
def task_show(task_id: str = typer.Argument(...), node_url: str = NodeOption,
              as_json: bool = JsonOption) -> None:  # fmt: skip
    """A task with its participants and submissions."""
    task = _run(lambda: node(node_url).rpc("ai_getTaskDetails", {"task_id": task_id}))

    def render(t: dict[str, Any]) -> None:
        head = {k: v for k, v in t.items() if k not in ("participants", "submissions")}
        table([{"field": k, "value": v} for k, v in head.items()], ["field", "value"])
        if t.get("submissions"):
            table(t["submissions"], title="submissions")

    emit(task, as_json, render)


# -- miners --------------------------------------------------------------------------


@miner_app.command("register")
def miner_register(
    signer: str = FromOption,
    miner_id: str = typer.Option(..., "--miner-id"),
    skills: list[str] = typer.Option([], "--skill"),
    specializations: list[wm.TaskType] = typer.Option([], "--specialization"),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Register the wallet as a miner."""
    _run(lambda: _write(
        node_url, signer, "ai_registerMiner", wm.MinerRegister, as_json, miner_id=miner_id,
        skills=list(skills), specializations=list(specializations),
    ))  # fmt: skip


@miner_app.command("join")
def miner_join(
    task_id: str = typer.Argument(...), signer: str = FromOption,
    stake: str = typer.Option(..., "--stake", help="Tokens to lock."),
    node_url: str = NodeOption, as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Join an open task by locking a stake."""
    _run(lambda: _write(
        node_url, signer, "ai_participateTask", wm.TaskJoin, as_json, task_id=task_id,
        stake_amount=parse_tokens(stake),
    ))  # fmt: skip


@miner_app.command("submit")
def miner_submit(
    task_id: str = typer.Argument(...), signer: str = FromOption,
    content: str = typer.Option(None, "--content", help="The solution inline (<= 2048 bytes)."),
    uri: str = typer.Option(None, "--uri", help="Or a reference to it."),
    content_hash: str = typer.Option(None, "--hash", help="SHA-256 hex (for --uri)."),
    node_url: str = NodeOption, as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Submit a solution to a task you joined."""
    digest = content_hash or hashlib.sha256((content or "").encode()).hexdigest()
    _run(lambda: _write(
        node_url, signer, "ai_submitSolution", wm.SolutionSubmit, as_json, task_id=task_id,
        content_hash=digest, content=content or "", content_uri=uri or "",
    ))  # fmt: skip


miner_app.command("auto")(auto_cmd.auto)


@miner_app.command("stats")
def miner_stats(who: str = typer.Argument(..., help="Address or wallet name."),
                node_url: str = NodeOption, as_json: bool = JsonOption) -> None:  # fmt: skip
    """Seed 000's MinerStats."""
    stats = _run(
        lambda: node(node_url).rpc("ai_getMinerStats", {"miner_address": resolve_address(who)})
    )
    emit(
        stats,
        as_json,
        lambda s: table([{"field": k, "value": v} for k, v in s.items()], ["field", "value"]),
    )


# -- validators and fraud ------------------------------------------------------------


@validator_app.command("register")
def validator_register(signer: str = FromOption, stake: str = typer.Option(..., "--stake"),
                       node_url: str = NodeOption, as_json: bool = JsonOption) -> None:  # fmt: skip
    """Register as a validator, locking a stake that weighs your votes."""
    _run(
        lambda: _write(
            node_url,
            signer,
            "ai_registerValidator",
            wm.ValidatorRegister,
            as_json,
            stake_amount=parse_tokens(stake),
        )
    )


@validator_app.command("vote")
def validator_vote(
    submission_id: str = typer.Argument(...), signer: str = FromOption,
    score: int = typer.Option(..., "--score", min=0, max=100),
    node_url: str = NodeOption, as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Vote a quality score 0-100 on a submission."""
    _run(
        lambda: _write(
            node_url,
            signer,
            "ai_submitValidation",
            wm.Vote,
            as_json,
            submission_id=submission_id,
            score=score,
        )
    )


@fraud_app.command("report")
def fraud_report(
    signer: str = FromOption,
    accused: str = typer.Option(..., "--accused", help="Address or wallet name."),
    task_id: str = typer.Option(..., "--task"),
    fraud_type: wm.FraudKind = typer.Option(..., "--kind"),
    evidence: str = typer.Option(..., "--evidence", help="Evidence text; its SHA-256 is sent."),
    submission_id: str = typer.Option("", "--submission"),
    node_url: str = NodeOption, as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Report fraud by a task participant."""
    _run(lambda: _write(
        node_url, signer, "ai_reportFraud", wm.FraudReport, as_json,
        accused=resolve_address(accused), task_id=task_id, fraud_type=fraud_type,
        evidence_hash=hashlib.sha256(evidence.encode()).hexdigest(), submission_id=submission_id,
    ))  # fmt: skip


@fraud_app.command("confirm")
def fraud_confirm(fraud_id: str = typer.Argument(...), signer: str = FromOption,
                  node_url: str = NodeOption, as_json: bool = JsonOption) -> None:  # fmt: skip
    """Confirm a fraud alert as a validator."""
    _run(
        lambda: _write(
            node_url, signer, "ai_confirmFraud", wm.FraudConfirm, as_json, fraud_id=fraud_id
        )
    )


@fraud_app.command("list")
def fraud_list(status: str = typer.Option(None, "--status"), node_url: str = NodeOption,
               as_json: bool = JsonOption) -> None:  # fmt: skip
    """Fraud alerts."""
    params = {"status": status} if status else {}
    alerts = _run(lambda: node(node_url).rpc("ai_listFraudAlerts", params)["alerts"])
    emit(alerts, as_json, lambda rows: table(rows))
