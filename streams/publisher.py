"""The gateway's side of INTAKE: check an envelope, publish it, wait for its decision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
from nats.js import JetStreamContext

from domain.errors import ErrorCode, LedgerError
from streams.envelope import OpenedTx, open_envelope
from streams.intake import INTAKE_PREFIX

PUBLISH_TIMEOUT_S = 5.0


class SubmitResult(msgspec.Struct, frozen=True):
    txid: str
    status: str  # "pending" (taken into INTAKE) or "duplicate" (already taken)


class DecisionWaiters:
    """Futures keyed by txid, resolved when the projector has the transaction's record.

    ``resolve`` runs on the waiters' own loop (the projection runner's callback);
    ``resolve_threadsafe`` from any other thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}

    def resolve_threadsafe(self, txids: list[str]) -> None:
        if self._waiting:
            self.loop.call_soon_threadsafe(self.resolve, txids)

    def resolve(self, txids: list[str]) -> None:
        if not self._waiting:
            return
        for txid in txids:
            for future in self._waiting.pop(txid, ()):
                if not future.done():
                    future.set_result(None)

    async def wait(self, txid: str, timeout: float, already: Callable[[], bool]) -> bool:
        future: asyncio.Future[None] = self.loop.create_future()
        self._waiting.setdefault(txid, []).append(future)
        try:
            if await asyncio.to_thread(already):
                return True
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            futures = self._waiting.get(txid)
            if futures and future in futures:
                futures.remove(future)
                if not futures:
                    del self._waiting[txid]


class IntakePublisher:
    """Refuses bad envelopes before they reach INTAKE: a refusal here changes nothing."""

    def __init__(
        self,
        js: JetStreamContext,
        chain_id: str,
        waiters: DecisionWaiters,
        is_decided: Callable[[str], bool],
    ) -> None:
        self.js = js
        self.chain_id = chain_id
        self.waiters = waiters
        self.is_decided = is_decided

    async def submit(self, envelope: bytes) -> SubmitResult:
        """Check the envelope (off the event loop: it verifies a signature), then publish."""
        return await self.publish(await asyncio.to_thread(open_envelope, envelope, self.chain_id))

    async def publish(self, opened: OpenedTx) -> SubmitResult:
        """Publish an envelope already checked by ``open_envelope``, as it was received."""
        try:
            ack = await self.js.publish(
                f"{INTAKE_PREFIX}.{opened.kind}",
                opened.envelope,
                timeout=PUBLISH_TIMEOUT_S,
                headers={"Nats-Msg-Id": opened.txid},
            )
        except Exception as error:  # nats raises several types; all mean "not taken"
            raise LedgerError(ErrorCode.UNAVAILABLE, f"intake did not take it: {error}") from None
        return SubmitResult(txid=opened.txid, status="duplicate" if ack.duplicate else "pending")

    async def wait_decided(self, txid: str, timeout: float) -> bool:
        return await self.waiters.wait(txid, timeout, lambda: self.is_decided(txid))
