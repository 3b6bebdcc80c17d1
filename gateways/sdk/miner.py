"""The miner's part of the client (seed 000's AIMiner)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateways.sdk.automining import AutoMiner
from gateways.sdk.errors import AIValidationError
from gateways.sdk.solvers import Solver
from gateways.sdk.types import AutoMiningConfig, MinerConfig, TaskSolution, TaskSummary, TaskType
from streams import wire_market

if TYPE_CHECKING:
    from gateways.sdk.client import HiveClient

log = logging.getLogger(__name__)

CONTENT_MAX_BYTES = 2048  # the solution_submit kind's inline limit


def solution_fields(solution: TaskSolution, content_uri: str | None) -> dict[str, str]:
    """The solution_submit fields: inline content when it fits, else only its URI.

    The content is ``solution.to_content()`` (canonical JSON) and ``content_hash`` its
    SHA-256, whether inline or not: whoever fetches the URI can check what they got.
    """
    try:
        content = solution.to_content()
        size = len(content.encode("utf-8"))
    except (TypeError, ValueError) as error:  # not JSON-able, or unpaired surrogates
        raise AIValidationError(
            "field_invalid", f"the solution cannot be encoded: {error}"
        ) from None
    fields = {"content_hash": solution.content_hash()}
    if size <= CONTENT_MAX_BYTES:
        fields["content"] = content
    elif not content_uri:
        raise AIValidationError(
            "field_invalid",
            f"the solution is {size} bytes; at most {CONTENT_MAX_BYTES} go inline: "
            "store solution.to_content() elsewhere and pass content_uri",
        )
    if content_uri:
        fields["content_uri"] = content_uri
    return fields


class AIMiner:
    """Register, join tasks, submit solutions, and mine automatically with a solver."""

    def __init__(self, client: HiveClient) -> None:
        self.client = client
        self.config: MinerConfig | None = None
        self._auto = AutoMiner(self)

    @property
    def is_running(self) -> bool:
        return self._auto.is_running

    @is_running.setter
    def is_running(self, value: bool) -> None:
        """Seed 000 stops the loop by setting this to False; that still works."""
        if not value:
            self._auto.stop()

    @property
    def auto_tasks(self) -> list[str]:
        """Ids of the tasks auto-mining joined, oldest first."""
        return list(self._auto.joined)

    async def register(self, miner_config: MinerConfig) -> str:
        """Register this client's address as a miner; returns the registration id (txid).

        Costs nothing and locks nothing: ``stake_amount`` stays here, as the most the
        auto-miner stakes on one task. Registering twice is ``already_registered``.
        """
        result = await self.client.send_transaction(
            "ai_registerMiner",
            wire_market.MinerRegister,
            miner_id=miner_config.miner_id,
            skills=list(miner_config.skills),
            specializations=[TaskType(s) for s in miner_config.specializations],
            contact=dict(miner_config.contact_info),
        )
        self.config = miner_config
        return str(result.get("registration_id") or result["txid"])

    async def participate_task(self, task_id: str, stake_amount: int) -> str:
        """Join a task, locking ``stake_amount`` units until it closes; the participation id."""
        result = await self.client.send_transaction(
            "ai_participateTask", wire_market.TaskJoin, task_id=task_id, stake_amount=stake_amount
        )
        return str(result.get("participation_id") or result["txid"])

    async def submit_solution(self, task_id: str, solution: TaskSolution,
                              content_uri: str | None = None) -> str:  # fmt: skip
        """Submit a solution; returns the submission id (txid).

        Inline when ``solution.to_content()`` fits 2048 bytes of UTF-8; a larger one must
        be stored elsewhere by the caller and named by ``content_uri`` (at most 512 bytes),
        else AIValidationError ``field_invalid``.
        """
        fields = solution_fields(solution, content_uri)
        result = await self.client.send_transaction(
            "ai_submitSolution", wire_market.SolutionSubmit, task_id=task_id, **fields
        )
        return str(result.get("submission_id") or result["txid"])

    async def get_my_tasks(self) -> list[TaskSummary]:
        """Tasks this client's address joined or published."""
        address = (await self.client.signer()).address
        result = await self.client.rpc_call("ai_getMyTasks", {"address": address})
        return [TaskSummary.from_dict(task) for task in result["tasks"]]

    async def start_auto_mining(self, config: AutoMiningConfig,
                                solver: Solver | None = None) -> None:  # fmt: skip
        """Mine until ``stop_auto_mining()``: see gateways/sdk/automining.py.

        ``solver`` turns TaskDetails into a TaskSolution (or None to pass); it is needed
        only when ``config.auto_submit_solutions`` is true.
        """
        await self._auto.run(config, solver)

    def stop_auto_mining(self) -> None:
        """Ask the loop to stop; it wakes at once. ``await`` the start call to join it."""
        self._auto.stop()

    async def wait_stopped(self) -> None:
        await self._auto.wait_stopped()

    def status(self) -> dict[str, Any]:
        return self._auto.status()
