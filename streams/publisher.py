"""The gateway's side of INTAKE: check an envelope, publish it, wait for its decision."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import msgspec
from nats.aio.client import Client as NATS

from domain.errors import ErrorCode, LedgerError
from streams.envelope import OpenedTx, open_envelope
from streams.intake import INTAKE_PREFIX
from streams.intake_bulk import publish_bulk

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
BULK_MAX = 1000  # envelopes per bulk request


def _open_all(envelopes: list[bytes], chain_id: str) -> list[OpenedTx]:
    opened = []
    for index, envelope in enumerate(envelopes):
        try:
            opened.append(open_envelope(envelope, chain_id))
        except LedgerError as error:
            raise LedgerError(
                error.error_code, f"envelope {index} of {len(envelopes)}: {error.reason}"
            ) from None
    return opened


class SubmitResult(msgspec.Struct, frozen=True):
    txid: str
    status: str  # "pending" (taken into INTAKE) or "duplicate" (taken or decided before)


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
        nc: NATS,
        chain_id: str,
        waiters: DecisionWaiters,
        decided_among: Callable[[Sequence[str]], set[str]],
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.chain_id = chain_id
        self.waiters = waiters
        self.decided_among = decided_among  # which of these txids the projections show

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

    async def submit_many(self, envelopes: list[bytes]) -> list[SubmitResult]:
        """Check every envelope (off the event loop), then publish them all as atomic
        batches (streams/intake_bulk.py): all or nothing. The first envelope that fails
        its check refuses the request, naming its index, and nothing is published. A
        transaction id repeated in the request is published once, and one the ledger has
        already decided (accepted or rejected) not at all: both answer ``duplicate``, and
        ``GET /v1/tx/{txid}`` says what became of it. (Batches cannot carry
        ``Nats-Msg-Id``, so INTAKE's duplicate window cannot tell.) If the projections
        cannot answer, every envelope is published: the sequencer decides a txid once."""
        if not 1 <= len(envelopes) <= BULK_MAX:
            raise LedgerError(
                ErrorCode.BAD_REQUEST, f"send 1 to {BULK_MAX} envelopes, not {len(envelopes)}"
            )
        opened = await asyncio.to_thread(_open_all, envelopes, self.chain_id)
        seen: set[str] = await asyncio.to_thread(self._decided_or_none, opened)
        results, unique = [], []
        for tx in opened:
            if tx.txid in seen:
                results.append(SubmitResult(txid=tx.txid, status="duplicate"))
                continue
            seen.add(tx.txid)
            unique.append((tx.kind, tx.envelope))
            results.append(SubmitResult(txid=tx.txid, status="pending"))
        if not unique:
            return results
        try:  # one atomic batch (BULK_MAX is within the server's limit): all or nothing
            await publish_bulk(self.nc, unique, batch=len(unique))
        except Exception as error:  # nats raises several types; all mean "not all taken"
            raise LedgerError(
                ErrorCode.UNAVAILABLE, f"intake did not take the batch: {error}"
            ) from None
        return results

    def _decided_or_none(self, opened: list[OpenedTx]) -> set[str]:
        try:
            return set(self.decided_among([tx.txid for tx in opened]))
        except Exception as error:  # a read of the projections, never a reason to refuse
            log.warning("bulk submit: no look at which txids are decided (%s)", error)
            return set()

    async def wait_decided(self, txid: str, timeout: float) -> bool:
        return await self.waiters.wait(txid, timeout, lambda: txid in self.decided_among([txid]))
