"""The publisher's part of the client: publish and cancel tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateways.sdk.types import TaskSpec
from streams import wire_market

if TYPE_CHECKING:
    from gateways.sdk.client import HiveClient


class TaskPublisher:
    def __init__(self, client: HiveClient) -> None:
        self.client = client

    async def publish_task(self, spec: TaskSpec) -> str:
        """Publish a task, escrowing its reward; returns the task id (the txid).

        The deadline must lie ahead when the node sequences it (else ``deadline_invalid``).
        After it, the task takes no joins or submissions; validators vote during
        ``spec.validation_window``, and the sequencer settles the task at its end (or
        earlier, once every submission has reached consensus).
        """
        result = await self.client.send_transaction(
            "ai_publishTask", wire_market.TaskPublish, **spec.to_fields()
        )
        return str(result.get("task_id") or result["txid"])

    async def cancel_task(self, task_id: str) -> str:
        """Cancel an open task without submissions: the reward and stakes go back."""
        result = await self.client.send_transaction(
            "ai_cancelTask", wire_market.TaskCancel, task_id=task_id
        )
        return str(result["txid"])
