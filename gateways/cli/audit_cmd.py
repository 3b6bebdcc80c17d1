"""hiveledger audit: replay the whole LEDGER and check every figure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nats
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from domain.errors import ErrorCode
from gateways.cli.common import JsonOption, console, emit, fail, home, node, table


def _nats_url(data: Path | None, nats_url: str | None) -> tuple[str, dict[str, Any]]:
    if nats_url:
        return nats_url, {}
    info_path = (data or home() / "data") / "node.json"
    if not info_path.exists():
        fail(ErrorCode.UNAVAILABLE, f"no {info_path}: pass --nats URL or --data DIR of a node")
    info = json.loads(info_path.read_text())
    return str(info["nats_url"]), info


async def _audit(url: str, stream: str, quiet: bool) -> Any:
    from gateways.audit import audit_stream

    nc = await nats.connect(url, name="hiveledger-audit", connect_timeout=5)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description} {task.completed}"),
                      disable=quiet, transient=True) as progress:  # fmt: skip
            task = progress.add_task("replaying ledger messages", total=None)
            return await audit_stream(nc, stream, progress=lambda k: progress.advance(task, k))
    finally:
        await nc.close()


def audit(
    data: Path = typer.Option(None, "--data", envvar="HIVELEDGER_DATA", help="A node's data dir."),
    nats_url: str = typer.Option(None, "--nats", help="The NATS server holding LEDGER."),
    stream: str = typer.Option("LEDGER", "--stream"),
    compare: bool = typer.Option(
        True, "--compare/--no-compare", help="Also compare balances with the node's projections."
    ),
    node_url: str = typer.Option(None, "--node", envvar="HIVELEDGER_NODE"),
    as_json: bool = JsonOption,
) -> None:
    """Check the hash chain, every signature, conservation at every commit, and (with a
    running node) that the projections agree with the replay."""
    from gateways.audit import AuditFailure
    from streams.commit_chain import ChainError

    url, info = _nats_url(data, nats_url)
    try:
        report = asyncio.run(_audit(url, stream, as_json))
    except (AuditFailure, ChainError) as error:
        fail(ErrorCode.AUDIT_FAILED, str(error), exit_code=1)
    summary = report.summary()
    if compare:
        client = node(node_url or info.get("http_url") or "http://127.0.0.1:8545")
        rows = client.sql(f"SELECT address, balance FROM wallets LIMIT {len(report.balances) + 1}")
        projected = {r[0]: int(r[1]) for r in rows["rows"]}
        summary["projection_matches"] = projected == report.balances or (
            rows.get("truncated") is True and None
        )
    summary["ok"] = summary.get("projection_matches", True) is not False
    emit(
        summary,
        as_json,
        lambda s: table(
            [{"check": k, "value": v} for k, v in s.items()], ["check", "value"], "hiveledger audit"
        ),
    )
    if not summary["ok"]:
        console.print("[red]the projections differ from the replayed ledger[/red]")
        raise typer.Exit(1)
