"""hiveledger miner auto: the SDK's auto-miner with a built-in solver, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import typer

from domain.money import parse_tokens
from gateways.cli.common import NodeOption, errors_reported, home, password


async def _mine(
    node_url: str, signer: str, config: Any, solver: Any, seconds: float
) -> dict[str, Any]:
    from gateways.sdk import HiveClient

    async with HiveClient(node_url, wallet=signer, password=password(),
                          keystore_home=home()) as client:  # fmt: skip
        miner = client.miner
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Only the main thread (and not Windows) can take signals in the loop; run from
            # elsewhere (a worker thread, a test's CliRunner), --seconds is the way to stop.
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, miner.stop_auto_mining)
        if seconds > 0:
            loop.call_later(seconds, miner.stop_auto_mining)
        await miner.start_auto_mining(config, solver)
        return dict(miner.status())


def auto(
    signer: str = typer.Option(..., "--from", help="Wallet name in the keystore."),
    task_types: list[str] = typer.Option([], "--type", help="Preferred task types."),
    min_reward: str = typer.Option("0.000000001", "--min-reward", help="Tokens."),
    max_concurrent: int = typer.Option(3, "--max-concurrent", min=1),
    interval: float = typer.Option(2.0, "--interval", help="Seconds between rounds."),
    seconds: float = typer.Option(0, "--seconds", help="Stop after this long (0: Ctrl-C)."),
    node_url: str = NodeOption,
) -> None:
    """Find suitable tasks, join, solve with the built-in summary solver, submit."""
    from gateways.sdk import AutoMiningConfig, TaskType, summary_solver

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with errors_reported():
        config = AutoMiningConfig(
            preferred_task_types=[TaskType(t) for t in task_types],
            preferred_difficulty=None,
            min_reward=parse_tokens(min_reward),
            max_concurrent_tasks=max_concurrent,
            min_success_probability=0.0,
            min_time_left=1,
            check_interval=interval,
            auto_submit_solutions=True,
        )
        status = asyncio.run(_mine(node_url, signer, config, summary_solver, seconds))
    typer.echo(" ".join(f"{k}={v}" for k, v in status.items()))
