"""Bulk submission: many envelopes to INTAKE as atomic batches, one fsync per batch.

Published one by one, each envelope costs INTAKE a disk sync of its own (the server runs
with ``sync_interval: always``): on a small machine the server spends more CPU syncing
INTAKE than anything else in the node. A client with many transactions at hand (a
market maker, a batch job, the benchmark) publishes them as atomic batches instead: one
sync per batch. Batches cannot carry ``Nats-Msg-Id`` (the server refuses it inside a
batch), so the stream's duplicate window does not filter them; the sequencer still
decides each transaction id once (docs/PROTOCOL.md, "Publishing in bulk").
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from nats.aio.client import Client as NATS

from streams.atomic_batch import Ack, AckInbox, await_ack, send_atomic_batch
from streams.intake import INTAKE_PREFIX

# Envelopes per atomic batch: the server's limit. Each batch costs the server ~2.5 ms of
# CPU beyond its messages (it stages the batch in a store of its own): published to
# INTAKE in batches of 1000, a message cost it ~20 µs of CPU against ~28 in batches of 250.
BULK_BATCH = 1000
BULK_IN_FLIGHT = 8  # batches sent before the oldest's ack is awaited (server limit: 50)
BULK_TIMEOUT_S = 30.0


async def publish_bulk(
    nc: NATS,
    envelopes: Iterable[tuple[str, bytes]],
    *,
    batch: int = BULK_BATCH,
    in_flight: int = BULK_IN_FLIGHT,
    max_envelope: int = 65_536,
    progress: Callable[[int], None] = lambda _: None,
) -> list[Ack]:
    """Publish ``(kind, envelope)`` pairs to ``hive.intake.<kind>`` in order, as atomic
    batches of ``batch``, up to ``in_flight`` batches unacknowledged. Returns the acks.

    An envelope over ``max_envelope`` bytes (INTAKE's message limit) raises ValueError
    before anything of its batch is sent: one oversize envelope would sink its batch.
    A refused batch raises ``BatchRefusedError``; the batches before it were taken."""
    assert 1 <= batch <= 1000 and 1 <= in_flight <= 50
    inbox = AckInbox(nc)
    await inbox.start()
    waiting: deque[tuple[int, asyncio.Future[Ack]]] = deque()
    acks: list[Ack] = []

    async def settle_oldest() -> None:
        count, future = waiting.popleft()
        acks.append(await await_ack(future, BULK_TIMEOUT_S, "intake batch"))
        progress(count)

    try:
        for chunk in _chunks(envelopes, batch):
            for kind, data in chunk:
                if len(data) > max_envelope:
                    raise ValueError(f"a {kind} envelope of {len(data)} bytes is over the limit")
            messages = [(f"{INTAKE_PREFIX}.{kind}", data, None) for kind, data in chunk]
            if len(waiting) >= in_flight:
                await settle_oldest()
            waiting.append((len(chunk), await send_atomic_batch(nc, inbox, messages)))
        while waiting:
            await settle_oldest()
    finally:
        await inbox.close()
    return acks


def _chunks(items: Iterable[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
