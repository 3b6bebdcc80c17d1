"""The demo's participants on a running node: one SDK client each, funding from the
treasury, registration, publishing, and the miners' auto-mining loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

from domain.market_types import DifficultyLevel
from domain.money import UNIT, format_units
from gateways.demo.cast import Cast, Miner, Publisher, TaskIdea, Validator
from gateways.sdk.client import HiveClient
from gateways.sdk.errors import AIError
from gateways.sdk.solvers import summary_solver
from gateways.sdk.types import AutoMiningConfig, MinerConfig, TaskSpec
from streams.keys import Keypair

log = logging.getLogger(__name__)

MINER_STAKE_CAP = 10 * UNIT  # MinerConfig.stake_amount: the most a miner stakes on a task
GAS_MONEY = 5 * UNIT  # what a validator keeps besides its stake (nothing costs fees today)
MIN_TIME_LEFT_S = 2


@dataclass(frozen=True)
class PublishedTask:
    index: int
    task_id: str
    idea: TaskIdea
    publisher: Publisher
    deadline_s: float  # from publishing


def max_participants(idea: TaskIdea, miners: int) -> int:
    """Beginner and intermediate tasks take everyone; harder ones are selective."""
    if idea.difficulty in (DifficultyLevel.BEGINNER, DifficultyLevel.INTERMEDIATE):
        return max(2, miners)
    share = 2 / 3 if idea.difficulty == DifficultyLevel.ADVANCED else 1 / 2
    return max(3, min(miners, round(miners * share)))


def auto_config(miner: Miner) -> AutoMiningConfig:
    return AutoMiningConfig(
        preferred_task_types=[] if miner.generalist else list(miner.specializations),
        preferred_difficulty=None, min_reward=0, max_concurrent_tasks=miner.max_concurrent,
        min_success_probability=miner.min_success, min_time_left=MIN_TIME_LEFT_S,
        check_interval=miner.check_interval, auto_submit_solutions=True,
    )  # fmt: skip


def miner_config(cast: Cast, miner: Miner) -> MinerConfig:
    skills = ["python", "sql"] if miner.generalist else [s.value for s in miner.specializations]
    return MinerConfig(
        miner_id=f"demo-{cast.seed}-{miner.name}", skills=skills,
        specializations=list(miner.specializations), stake_amount=MINER_STAKE_CAP,
        contact_info={"demo": f"seed {cast.seed}"},
    )  # fmt: skip


def plan_stakes(cast: Cast, registered: dict[str, int], network_stake: int) -> dict[str, int]:
    """Validators' stakes such that the honest ones hold a majority of ALL validator stake
    on the node, earlier runs' validators included (a fraud alert needs more than half).
    Already registered validators keep their stake; new honest ones are raised if needed."""
    stakes = {v.keypair.address: registered.get(v.keypair.address, v.stake)
              for v in cast.validators}  # fmt: skip
    others = network_stake - sum(registered.values())
    colluding = sum(stakes[v.keypair.address] for v in cast.colluders)
    honest = [v.keypair.address for v in cast.honest]
    new = [a for a in honest if a not in registered]
    missing = others + colluding + 1 - sum(stakes[a] for a in honest)
    if missing > 0 and new:
        extra = -(-missing // len(new))
        extra = -(-extra // UNIT) * UNIT  # whole tokens
        for address in new:
            stakes[address] += extra
        log.info("other validators hold %s tokens: honest demo stakes raised by %s each",
                 format_units(others), format_units(extra))  # fmt: skip
    elif missing > 0:
        log.warning("the honest demo validators hold no majority of validator stake: "
                    "a fraud alert cannot be enforced (use another --seed)")  # fmt: skip
    return stakes


class Network:
    """Opens an SDK client for every participant (and the treasury) on one node."""

    def __init__(self, node_url: str, cast: Cast, treasury: Keypair) -> None:
        self.node_url = node_url
        self.cast = cast
        self.treasury = treasury
        self._stack = contextlib.AsyncExitStack()
        self.clients: dict[str, HiveClient] = {}
        self.bank: HiveClient | None = None
        self.registered_validators: set[str] = set()

    async def __aenter__(self) -> Network:
        try:
            self.bank = await self._open(self.treasury)
            people = (*self.cast.publishers, *self.cast.miners, *self.cast.validators)
            for person in people:
                self.clients[person.keypair.address] = await self._open(person.keypair)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:  # fmt: skip
        await self._stack.aclose()

    async def _open(self, keypair: Keypair) -> HiveClient:
        client = HiveClient(self.node_url, wallet=keypair)
        return await self._stack.enter_async_context(client)

    def of(self, person: Publisher | Miner | Validator) -> HiveClient:
        return self.clients[person.keypair.address]

    @property
    def reader(self) -> HiveClient:
        assert self.bank is not None
        return self.bank

    # -- setting up -------------------------------------------------------------------
    async def validator_stakes(self) -> dict[str, int]:
        """Plan the stakes (see plan_stakes) from what the node knows now."""
        registered: dict[str, int] = {}
        for validator in self.cast.validators:
            with contextlib.suppress(AIError):  # not_validator: not registered yet
                info = await self.reader.validator.get_info(validator.keypair.address)
                registered[validator.keypair.address] = int(info["stake"])
        market = (await self.reader.get_chain_info()).get("market") or {}
        self.registered_validators = set(registered)
        return plan_stakes(self.cast, registered, int(market.get("validator_stake") or 0))

    def needs(self) -> dict[str, int]:
        """What each participant should hold before the market opens (units)."""
        need: dict[str, int] = {}
        for i, publisher in enumerate(self.cast.publishers):
            mine = self.cast.ideas[i :: len(self.cast.publishers)]
            need[publisher.keypair.address] = sum(t.reward_tokens for t in mine) * UNIT + UNIT
        per_miner = max(30, 5 * len(self.cast.ideas)) * UNIT
        for miner in self.cast.miners:
            need[miner.keypair.address] = per_miner
        for validator in self.cast.validators:
            fresh = validator.keypair.address not in self.registered_validators
            need[validator.keypair.address] = GAS_MONEY + (validator.stake if fresh else 0)
        return need

    async def fund(self) -> int:
        """Top everyone up to what they need, from the treasury; returns units sent."""
        sent = 0
        for address, need in self.needs().items():
            balance = await self.reader.get_balance(address)
            if balance < need:
                await self.reader.transfer(address, need - balance, memo="hiveledger demo")
                sent += need - balance
        return sent

    async def register(self) -> None:
        """Validators register with their stakes, miners with their skills (concurrently:
        different signers). A participant registered by an earlier run stays as it is."""

        async def validator(v: Validator) -> None:
            if v.keypair.address not in self.registered_validators:
                await self.of(v).validator.register(v.stake)

        async def miner(m: Miner) -> None:
            config = miner_config(self.cast, m)
            try:
                await self.of(m).miner.register(config)
            except AIError as error:
                if error.code != "already_registered":
                    raise
                self.of(m).miner.config = config  # keep the stake cap for auto-mining

        await asyncio.gather(*(validator(v) for v in self.cast.validators),
                             *(miner(m) for m in self.cast.miners))  # fmt: skip

    async def publish(self, deadline_s: float, window_s: float) -> list[PublishedTask]:
        """Publish every task, alternating publishers; deadlines a little apart."""
        published = []
        for index, idea in enumerate(self.cast.ideas):
            publisher = self.cast.publishers[index % len(self.cast.publishers)]
            deadline = deadline_s * (1 + 0.1 * index)
            spec = TaskSpec(
                title=idea.title, description=idea.description, task_type=idea.task_type,
                difficulty=idea.difficulty, reward_amount=idea.reward_tokens * UNIT,
                deadline=timedelta(seconds=deadline), stake_required=idea.stake_tokens * UNIT,
                quality_threshold=idea.threshold,
                max_participants=max_participants(idea, len(self.cast.miners)),
                validation_window=timedelta(seconds=window_s),
            )  # fmt: skip
            task_id = await self.of(publisher).publisher.publish_task(spec)
            log.info("%s published %s %r", publisher.name, task_id, idea.title)
            published.append(PublishedTask(index, task_id, idea, publisher, deadline))
        return published


class MinerFleet:
    """Every miner's SDK auto-miner (summary_solver), running concurrently."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for miner in self.net.cast.miners:
            client = self.net.of(miner)
            run = client.miner.start_auto_mining(auto_config(miner), summary_solver)
            self.loops.append(asyncio.create_task(run, name=f"auto-miner {miner.name}"))

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask every loop to stop (each wakes at once) and wait for them."""
        for miner in self.net.cast.miners:
            self.net.of(miner).miner.stop_auto_mining()
        if not self.loops:
            return
        done, pending = await asyncio.wait(self.loops, timeout=timeout)
        for task in pending:
            log.warning("%s did not stop within %ss: cancelled", task.get_name(), timeout)
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("%s ended with %r", task.get_name(), task.exception())
        await asyncio.gather(*pending, return_exceptions=True)

    def status(self) -> dict[str, dict[str, Any]]:
        return {m.keypair.address: self.net.of(m).miner.status() for m in self.net.cast.miners}
