"""Seed 000's auto-mining loop, with a solver plugin and a clean stop.

Each round: list the open tasks (seed 000's filters), keep those that match its criteria
(preferred types, minimum reward, difficulty, time left), and while fewer than
``max_concurrent_tasks`` of this miner's joined tasks are still before their deadline,
join the next one whose predicted success probability is high enough, staking what the
task requires (at least 1 unit; never more than the registered MinerConfig.stake_amount).
With ``auto_submit_solutions`` each joined task is solved and submitted in its own
asyncio task, so a slow solver does not hold up the others. Then the finished tasks are
reported (won, lost, expired), and the loop sleeps ``check_interval`` seconds.

Nothing stops the loop but ``stop()`` (or cancelling it): a failed join or solve is logged
and that task is skipped from then on; a failed round (the node unreachable, say) is
logged and retried after a growing pause (up to 30 s). ``stop()`` sets an asyncio.Event:
the sleep ends at once, a round in progress gets half a second to finish and is then
cancelled, and so are the solve-and-submit tasks in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateways.sdk.errors import AIError, AIValidationError
from gateways.sdk.solvers import Solver, call_solver
from gateways.sdk.types import (
    AutoMiningConfig,
    DifficultyLevel,
    TaskDetails,
    TaskFilters,
    TaskSummary,
)

if TYPE_CHECKING:
    from gateways.sdk.miner import AIMiner

log = logging.getLogger(__name__)

ERROR_BACKOFF_MAX_S = 30.0
STOP_GRACE_S = 0.5
# Failures that are about this miner, not the task: end the round, try again next round.
RETRY_LATER = frozenset(
    {"insufficient_funds", "miner_not_registered", "timeout", "unavailable", "nonce_stale",
     "nonce_gap"}
)  # fmt: skip
DIFFICULTY_BONUS = {
    DifficultyLevel.BEGINNER: 0.3,
    DifficultyLevel.INTERMEDIATE: 0.1,
    DifficultyLevel.ADVANCED: -0.1,
    DifficultyLevel.EXPERT: -0.2,
}


class AutoMiner:
    def __init__(self, miner: AIMiner) -> None:
        self.miner = miner
        self.is_running = False
        self._stop = asyncio.Event()
        self._stopped = asyncio.Event()
        self.joined: dict[str, TaskSummary] = {}  # every task this loop joined
        self.pending: set[str] = set()  # joined, outcome not reported yet
        self.skipped: set[str] = set()
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.submitted: dict[str, str] = {}  # task id -> submission id

    # -- the loop ---------------------------------------------------------------------
    async def run(self, config: AutoMiningConfig, solver: Solver | None) -> None:
        if self.is_running:
            raise AIValidationError("bad_request", "auto-mining is already running")
        if config.auto_submit_solutions and solver is None:
            raise AIValidationError("bad_request", "auto_submit_solutions needs a solver")
        self._stop.clear()
        self._stopped.clear()
        self.is_running = True
        log.info("auto-mining started: types %s, min reward %d, at most %d tasks at once",
                 [t.value for t in config.preferred_task_types] or "any", config.min_reward,
                 config.max_concurrent_tasks)  # fmt: skip
        errors = 0
        try:
            while not self._stop.is_set():
                try:
                    await self._guarded_round(config, solver)
                    errors = 0
                except AIError as error:
                    errors += 1
                    log.warning("auto-mining round failed: %s", error)
                except Exception:
                    errors += 1
                    log.exception("auto-mining round failed")
                await self._sleep(self._pause(config, errors))
        finally:
            await self._stop_workers()
            self.is_running = False
            self._stopped.set()
            log.info("auto-mining stopped")

    def stop(self) -> None:
        if self.is_running and not self._stop.is_set():
            log.info("stopping auto-mining")
        self._stop.set()

    async def wait_stopped(self) -> None:
        if self.is_running:
            await self._stopped.wait()

    def status(self) -> dict[str, Any]:
        return {"running": self.is_running, "joined": list(self.joined),
                "solving": list(self.workers), "submitted": dict(self.submitted),
                "skipped": sorted(self.skipped)}  # fmt: skip

    @staticmethod
    def _pause(config: AutoMiningConfig, errors: int) -> float:
        if not errors:
            return float(config.check_interval)
        return min(ERROR_BACKOFF_MAX_S, max(float(config.check_interval), 1.0) * 2 ** (errors - 1))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _guarded_round(self, config: AutoMiningConfig, solver: Solver | None) -> None:
        """One round, cancelled if a stop comes and it does not finish within the grace."""
        round_task = asyncio.create_task(self._round(config, solver))
        stop_task = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({round_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            if not round_task.done():
                await asyncio.wait({round_task}, timeout=STOP_GRACE_S)
            if not round_task.done():
                round_task.cancel()
                await asyncio.gather(round_task, return_exceptions=True)
                return
            round_task.result()
        finally:
            stop_task.cancel()
            if not round_task.done():
                round_task.cancel()

    async def _stop_workers(self) -> None:
        workers = list(self.workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self.workers.clear()

    async def _round(self, config: AutoMiningConfig, solver: Solver | None) -> None:
        me = (await self.miner.client.signer()).address
        active = await self._active_count(me)
        for task in await self._find_suitable_tasks(config):
            if self._stop.is_set() or active >= config.max_concurrent_tasks:
                break
            if task.task_id in self.joined or task.task_id in self.skipped:
                continue
            if task.publisher == me or not self._should_participate(task, config):
                continue
            outcome = await self._auto_participate(task, config, solver)
            if outcome is None:
                break
            active += outcome
        await self._check_active_tasks(me)

    # -- seed 000's criteria ----------------------------------------------------------
    async def _find_suitable_tasks(self, config: AutoMiningConfig) -> list[TaskSummary]:
        """Seed 000 filters by the first preferred type only; with several preferred
        types the node is asked for all and the types are matched here."""
        types = config.preferred_task_types
        filters = TaskFilters(
            task_type=types[0] if len(types) == 1 else None,
            min_reward=config.min_reward,
            difficulty=config.preferred_difficulty,
        )
        tasks = await self.miner.client.list_active_tasks(filters)
        return [task for task in tasks if self._matches_criteria(task, config)]

    @staticmethod
    def _matches_criteria(task: TaskSummary, config: AutoMiningConfig) -> bool:
        if config.preferred_task_types and task.task_type not in config.preferred_task_types:
            return False
        if task.reward_amount < config.min_reward:
            return False
        if config.preferred_difficulty and task.difficulty != config.preferred_difficulty:
            return False
        if task.participants_count >= task.max_participants:
            return False
        time_left = task.deadline - datetime.now()
        return time_left.total_seconds() >= config.min_time_left

    async def _active_count(self, me: str) -> int:
        """This miner's joined tasks still before their deadline (seed 000's count)."""
        now = datetime.now()
        mine = await self.miner.get_my_tasks()
        active = {
            t.task_id for t in mine if t.publisher != me and t.deadline > now and t.status == "open"
        }
        return len(active | set(self.workers))

    def _should_participate(self, task: TaskSummary, config: AutoMiningConfig) -> bool:
        return self._predict_success_probability(task) >= config.min_success_probability

    @staticmethod
    def _predict_success_probability(task: TaskSummary) -> float:
        """Seed 000's estimate: 0.3, adjusted by difficulty."""
        return min(1.0, 0.3 + DIFFICULTY_BONUS.get(task.difficulty, 0.0))

    def _calculate_stake_amount(self, task: TaskDetails) -> int | None:
        """What the task requires (at least 1 unit), or None when over this miner's cap."""
        stake = max(task.stake_required, 1)
        config = self.miner.config
        if config is not None and stake > config.stake_amount:
            return None
        return stake

    # -- joining, solving, submitting -------------------------------------------------
    async def _auto_participate(self, task: TaskSummary, config: AutoMiningConfig,
                                solver: Solver | None) -> int | None:  # fmt: skip
        """Join (and start solving): 1 if joined, 0 if skipped, None to end the round."""
        try:
            details = await self.miner.client.get_task_details(task.task_id)
            stake = self._calculate_stake_amount(details)
            if stake is None:
                log.info("task %s requires a stake of %d, above this miner's %d: skipped",
                         task.task_id, details.stake_required,
                         self.miner.config.stake_amount if self.miner.config else 0)  # fmt: skip
                self.skipped.add(task.task_id)
                return 0
            await self.miner.participate_task(task.task_id, stake)
        except AIError as error:
            if error.code in RETRY_LATER:
                log.warning("cannot join task %s now: %s", task.task_id, error)
                return None
            log.warning("task %s skipped: %s", task.task_id, error)
            self.skipped.add(task.task_id)
            return 0
        log.info("joined task %s %r (reward %d units, stake %d units)",
                 task.task_id, task.title, task.reward_amount, stake)  # fmt: skip
        self.joined[task.task_id] = task
        self.pending.add(task.task_id)
        if config.auto_submit_solutions and solver is not None:
            worker = asyncio.create_task(self._solve_and_submit(details, solver))
            self.workers[task.task_id] = worker
        return 1

    async def _solve_and_submit(self, task: TaskDetails, solver: Solver) -> None:
        try:
            solution = await call_solver(solver, task)
            if solution is None:
                log.info("the solver passed on task %s", task.task_id)
                return
            submission_id = await self.miner.submit_solution(task.task_id, solution)
            self.submitted[task.task_id] = submission_id
            log.info("submitted %s for task %s", submission_id, task.task_id)
        except AIError as error:
            log.warning("no submission for task %s: %s", task.task_id, error)
        except Exception:
            log.exception("the solver failed on task %s", task.task_id)
        finally:
            self.workers.pop(task.task_id, None)

    async def _check_active_tasks(self, me: str) -> None:
        """Report the joined tasks that closed since the last round."""
        now = datetime.now()
        for task_id in sorted(self.pending):
            if self.joined[task_id].deadline > now or task_id in self.workers:
                continue
            details = await self.miner.client.get_task_details(task_id)
            if not details.final:
                continue
            self.pending.discard(task_id)
            if details.winner == me:
                log.info("task %s settled: won %d units", task_id, details.reward_amount)
            else:
                log.info("task %s %s without a win", task_id, details.status)
