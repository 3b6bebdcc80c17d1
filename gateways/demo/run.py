"""The demo from start to finish against a running node (see gateways/demo/__init__.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from domain.money import format_units
from gateways.demo.cast import build_cast
from gateways.demo.network import MinerFleet, Network
from gateways.demo.progress import NullReporter, Reporter
from gateways.demo.summary import summarise
from gateways.demo.voting import Validation
from streams.keys import Keypair

log = logging.getLogger(__name__)

GRACE_S = 20.0  # how long to wait past the last task's settlement time before giving up


@dataclass(frozen=True)
class DemoConfig:
    node: str
    miners: int = 12
    validators: int = 5
    tasks: int = 4
    deadline_s: float = 20.0
    window_s: float = 10.0
    seed: int = 0
    grace_s: float = GRACE_S

    def __post_init__(self) -> None:
        if self.deadline_s < 3 or self.window_s < 1:
            raise ValueError("the deadline must be at least 3 s and the window at least 1 s")


async def run_demo(config: DemoConfig, treasury: Keypair,
                   reporter: Reporter | None = None) -> dict[str, Any]:  # fmt: skip
    """Fund, register, mine, vote, expose the colluders, wait for the sequencer to settle
    every task, stop the miners, and return the summary (a JSON-able dict)."""
    report = reporter or NullReporter()
    started = time.monotonic()
    cast = build_cast(config.seed, config.miners, config.validators, config.tasks)
    async with Network(config.node, cast, treasury) as net:
        report.phase("Planning validator stakes")
        net.cast = cast = cast.with_stakes(await net.validator_stakes())
        report.phase(f"Funding {len(net.needs())} participants from the treasury")
        funded = await net.fund()
        log.info("treasury sent %s tokens", format_units(funded))
        report.phase(f"Registering {len(cast.validators)} validators, {len(cast.miners)} miners")
        await net.register()
        fleet = MinerFleet(net)
        validation: Validation | None = None
        try:
            report.phase(f"Starting {len(cast.miners)} auto-miners (summary_solver)")
            fleet.start()
            report.phase(f"Publishing {config.tasks} tasks")
            tasks = await net.publish(config.deadline_s, config.window_s)
            validation = Validation(net, tasks)
            validation.start()
            report.phase("Mining, voting; the sequencer settles on its own clock")
            last = max(t.deadline_s for t in tasks) + config.window_s
            all_final = await validation.watch(time.monotonic() + last + config.grace_s, report)
        finally:
            report.phase("Stopping the auto-miners")
            await fleet.stop()
            if validation is not None:
                await validation.stop()
        report.phase("Reading the projections back (SQL)")
        summary = await summarise(net, tasks, validation, fleet.status())
    summary.update(all_final=all_final, elapsed_s=round(time.monotonic() - started, 1),
                   funded=funded)  # fmt: skip
    return summary
