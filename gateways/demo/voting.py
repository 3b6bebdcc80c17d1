"""The validators at work while the market runs, and the watch over the demo's tasks.

A watcher polls the node (ai_getTaskDetails) for every demo task: each new submission
goes to every validator's queue, and each validator votes on its queue in order (its own
signer, so its nonces stay in order). Honest validators score the submission's true
quality give or take a little noise; the colluding pair gives their friend 100, and
votes on the friend's submissions before anything else.

Once both colluders have voted 100 on one of the friend's submissions, a rival miner of
that task reports the collusion (fraud kind ``collusion``, the colluders' votes as the
evidence), and honest validators confirm it, biggest stake first, until the node enforces
it (more than half of all validator stake): the friend's stake in that task is slashed
and its payout withheld. Everything else is the sequencer's: deadlines, settlement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from domain.market_types import FraudKind
from gateways.demo.cast import Cast, Miner, Validator, vote_for
from gateways.demo.network import Network, PublishedTask
from gateways.demo.progress import Reporter
from gateways.sdk.errors import AIError
from gateways.sdk.types import TaskDetails

log = logging.getLogger(__name__)

POLL_S = 0.4


@dataclass(frozen=True)
class Job:
    task: PublishedTask
    submission_id: str
    miner: str


@dataclass
class FraudCase:
    task_id: str
    submission_id: str
    reporter: str
    fraud_id: str = ""
    confirmed_by: list[str] = field(default_factory=list)
    error: str = ""


class Validation:
    def __init__(self, net: Network, tasks: list[PublishedTask]) -> None:
        self.net = net
        self.cast: Cast = net.cast
        self.tasks = tasks
        # (priority, order, job): colluders take their friend's submissions first
        self.queues: dict[str, asyncio.PriorityQueue[tuple[int, int, Job]]] = {
            v.keypair.address: asyncio.PriorityQueue() for v in self.cast.validators
        }
        self.seen: set[str] = set()
        self.votes: dict[str, dict[str, int]] = {}  # submission -> validator -> score
        self.final: dict[str, TaskDetails] = {}
        self.latest: dict[str, TaskDetails] = {}
        self.fraud: FraudCase | None = None
        self._fraud_task: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []

    # -- running ----------------------------------------------------------------------
    def start(self) -> None:
        for validator in self.cast.validators:
            worker = asyncio.create_task(self._work(validator), name=f"{validator.name} votes")
            self._workers.append(worker)

    async def stop(self) -> None:
        tasks = [*self._workers, *([self._fraud_task] if self._fraud_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def watch(self, until: float, reporter: Reporter) -> bool:
        """Poll until every demo task is final (True) or the monotonic time ``until``."""
        while True:
            pending = [t for t in self.tasks if t.task_id not in self.final]
            answers = await asyncio.gather(
                *(self.net.reader.get_task_details(t.task_id) for t in pending),
                return_exceptions=True,
            )
            for task, details in zip(pending, answers, strict=True):
                if isinstance(details, BaseException):
                    log.warning("cannot read task %s: %s", task.task_id, details)
                    continue
                self._observe(task, details)
            reporter.tasks(len(self.final), len(self.tasks), self._detail())
            if len(self.final) == len(self.tasks):
                return True
            if time.monotonic() > until:
                return False
            await asyncio.sleep(POLL_S)

    def _observe(self, task: PublishedTask, details: TaskDetails) -> None:
        self.latest[task.task_id] = details
        if details.final:
            self.final[task.task_id] = details
            return
        for submission in details.submissions:
            submission_id = submission["submission_id"]
            if submission_id in self.seen:
                continue
            self.seen.add(submission_id)
            job = Job(task, submission_id, submission["miner"])
            friend = job.miner == self.cast.friend.keypair.address
            for validator in self.cast.validators:
                first = 0 if validator.colluder and friend else 1
                self.queues[validator.keypair.address].put_nowait((first, len(self.seen), job))

    def _detail(self) -> str:
        votes = sum(len(v) for v in self.votes.values())
        joined = sum(len(d.participants) for d in self.latest.values())
        statuses = [d.status for d in self.latest.values()]
        phase = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
        fraud = ""
        if self.fraud is not None:
            fraud = f", fraud alert {len(self.fraud.confirmed_by)} confirmation(s)"
        return f"{phase}: {joined} joined, {len(self.seen)} submitted, {votes} votes{fraud}"

    # -- voting -----------------------------------------------------------------------
    async def _work(self, validator: Validator) -> None:
        queue = self.queues[validator.keypair.address]
        client = self.net.of(validator)
        while True:
            _, _, job = await queue.get()
            score = vote_for(self.cast, validator, job.task.index, job.miner)
            try:
                await client.validator.vote(job.submission_id, score)
            except AIError as error:  # e.g. task_settled: the clock was faster
                log.info("%s could not vote on %s: %s", validator.name, job.submission_id, error)
                continue
            self.votes.setdefault(job.submission_id, {})[validator.keypair.address] = score
            if validator.colluder and job.miner == self.cast.friend.keypair.address:
                self._maybe_expose(job)

    def _maybe_expose(self, job: Job) -> None:
        votes = self.votes.get(job.submission_id, {})
        if self.fraud is not None or not all(c.keypair.address in votes
                                             for c in self.cast.colluders):  # fmt: skip
            return
        reporter = self._rival(job)
        self.fraud = FraudCase(job.task.task_id, job.submission_id, reporter)
        self._fraud_task = asyncio.create_task(self._expose(job), name="fraud report")

    def _rival(self, job: Job) -> str:
        """A miner of ours that joined the same task: it lost out, and it reports."""
        details = self.latest.get(job.task.task_id)
        ours = {m.keypair.address for m in self.cast.miners if not m.friend}
        rivals = [a for a in (details.participants if details else []) if a in ours]
        if rivals:
            return rivals[0]
        return max(self.cast.honest, key=lambda v: v.stake).keypair.address

    async def _expose(self, job: Job) -> None:
        case = self.fraud
        assert case is not None
        friend: Miner = self.cast.friend
        colluders = {c.keypair.address for c in self.cast.colluders}
        evidence = json.dumps({
            "task_id": job.task.task_id, "submission_id": job.submission_id,
            "votes": {a: s for a, s in self.votes[job.submission_id].items() if a in colluders},
            "note": "both validators score every submission of this miner 100",
        }, sort_keys=True)  # fmt: skip
        try:
            case.fraud_id = await self.net.clients[case.reporter].validator.report_fraud(
                friend.keypair.address, job.task.task_id, FraudKind.COLLUSION,
                evidence=evidence, submission_id=job.submission_id,
            )  # fmt: skip
            log.info("%s reported collusion: fraud alert %s",
                     self.cast.name_of(case.reporter), case.fraud_id)  # fmt: skip
            for validator in sorted(self.cast.honest, key=lambda v: -v.stake):
                if await self._enforced(case.fraud_id):
                    break
                await self.net.of(validator).validator.confirm_fraud(case.fraud_id)
                case.confirmed_by.append(validator.keypair.address)
        except AIError as error:
            case.error = str(error)
            log.warning("the fraud report did not go through: %s", error)

    async def _enforced(self, fraud_id: str) -> bool:
        alerts = await self.net.reader.validator.list_fraud_alerts(
            accused=self.cast.friend.keypair.address
        )
        with contextlib.suppress(StopIteration):
            alert: dict[str, Any] = next(a for a in alerts if a["fraud_id"] == fraud_id)
            return bool(alert["status"] == "confirmed")
        return False
