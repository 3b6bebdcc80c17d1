"""The batch projection runner: LEDGER -> DuckDB views, on the node's event loop.

eventsourcing's ProjectionRunner model (a tracking position committed with the view's
state, a start from that position), in batches: the feed fills a bounded buffer while a
writer thread applies what has arrived, up to ``batch_size`` messages per DuckDB
transaction. No waiting to fill a batch: under load batches grow by themselves, idle they
stay small and the latency low.

After each committed batch, ``on_projected(last_seq, txids)`` runs on the event loop
(the gateway answers "wait for my transaction" with it), and ``wait_for(seq)`` wakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from projections.db import ProjectionDB
from projections.feed import LedgerFeed
from projections.projector import BatchResult, Projector
from projections.records import COMMIT_HEADER, RawMsg
from projections.views import View, default_views
from streams.jetstream_errors import JetStreamApiError
from streams.jetstream_reads import direct_get_last
from streams.push_frames import FrameClient, NatsErrors, connect_frames, server_url

log = logging.getLogger(__name__)

# The messages of one atomic write arrive within milliseconds of each other. A tail with
# no commit record for this long, nothing pending after it, is not a write in progress
# (foreign data, which then fails its batch loudly, or a ledger without commits): apply it.
WRITE_WAIT_S = 5.0
MAX_CARRIED = 50_000  # far above one atomic write (<= 4000 messages): a ledger without commits

IDLE_WAIT = 0.5  # seconds the feed waits for a message before checking the stream

# Messages per DuckDB transaction at most. Each batch pays ~25 statements and a commit
# whatever its size: under a backlog, batches of up to 20000 cost ~15-20% less CPU per
# event than batches of 5000 (projections.bench, docs/PROJECTIONS.md).
DEFAULT_BATCH_SIZE = 20_000

# Under load (a first take of GATHER_FROM messages or more: several sequencer writes),
# the runner waits up to GATHER_S for more, up to GATHER_MIN messages: each DuckDB batch
# costs ~70 ms of CPU whatever its size, and a projector that keeps up exactly would pay
# that for every write or two. Idle, a lone transaction is applied at once.
GATHER_FROM = 500
GATHER_MIN = 12000
GATHER_S = 0.5

PROJECTOR_NICE = 10  # see _yield_cpu

# When idle, the runner folds a WAL of this size or more into the file (see projections/db.py).
IDLE_CHECKPOINT_BYTES = 8 * 2**20
CHECKPOINT_RETRY_S = 10.0  # after DuckDB deferred one (a user's query was running)

OnProjected = Callable[[int, list[str]], Awaitable[None] | None]


@dataclass(slots=True)
class ProjectionStats:
    """Figures for /metrics and logs. Lag: now minus the JetStream timestamp of the last
    message of the batch, when the batch committed."""

    batches: int = 0
    messages: int = 0
    events: int = 0
    last_batch_size: int = 0
    last_apply_ms: float = 0.0
    last_lag_ms: float = 0.0
    max_lag_ms: float = 0.0
    backlog: int = 0  # messages the server still held for the feed at the last batch
    started_at: float = 0.0


def split_at_last_commit(raws: list[RawMsg], caught_up: bool) -> tuple[list[RawMsg], list[RawMsg]]:
    """(what to apply now, what to carry): a projector batch ends where one of the
    sequencer's atomic writes ends (the message with the commit record), so every
    committed DuckDB state is a state the ledger itself had. Messages with no commit
    record after them wait for the rest of their write. ``caught_up`` applies them anyway:
    for a ledger written without commit records (as some tests write), or a tail that has
    waited WRITE_WAIT_S; a consumer can report nothing pending in the middle of an atomic
    write's delivery, so that alone does not say a write is whole."""
    for index in range(len(raws) - 1, -1, -1):
        headers = raws[index].headers
        if headers and COMMIT_HEADER in headers:
            return raws[: index + 1], raws[index + 1 :]
    if caught_up or len(raws) > MAX_CARRIED:
        return raws, []
    return [], raws


def _yield_cpu() -> None:
    """Lower the projector thread's CPU priority (Linux: a thread's own nice value).

    The projector is the one elastic stage: a DuckDB batch costs ~70 ms whatever its size,
    so a projector that falls behind catches up with larger, cheaper batches. The
    sequencer, its check stage and nats-server form a chain in which every wait stalls
    the whole ledger. Under load the projector yields the cores to them; idle, it runs
    as soon as anything arrives.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PROJECTOR_NICE)
    except (AttributeError, OSError) as err:  # not Linux, or not allowed: run as is
        log.debug("projector priority unchanged: %s", err)


class BatchProjectionRunner:
    """Keeps the views of ``db`` up to date with the LEDGER stream.

    ``start()`` resumes from the views' tracked position, ``stop(timeout)`` ends cleanly:
    the batch in flight commits or, past the deadline, is interrupted and rolls back;
    either way the next start resumes exactly where the committed state ends.
    """

    def __init__(
        self,
        db: ProjectionDB,
        nc: NATS,
        *,
        stream: str = "LEDGER",
        prefix: str = "hive.ledger",
        views: Sequence[View] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_queue_bytes: int = 128 * 1024 * 1024,
        on_projected: OnProjected | None = None,
        idle_checkpoint_bytes: int = IDLE_CHECKPOINT_BYTES,
    ) -> None:
        self.db = db
        self.nc = nc
        self.stream = stream
        self.prefix = prefix
        self.batch_size = batch_size
        self.max_queue_bytes = max_queue_bytes
        self.on_projected = on_projected
        self.idle_checkpoint_bytes = idle_checkpoint_bytes
        self._checkpoint_retry_at = 0.0
        self.projector = Projector(db, views if views is not None else default_views(), prefix)
        self.stats = ProjectionStats()
        self.error: BaseException | None = None
        self._feed: LedgerFeed | None = None
        self._feed_nc: FrameClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="projector", initializer=_yield_cpu
        )
        self._advanced = asyncio.Condition()
        self._stopping = False
        # Once the ledger shows commit records, a batch ends only on one: a consumer can
        # be told "nothing pending" while an atomic write is still being delivered.
        self._commits_seen = False

    @property
    def position(self) -> int:
        """The last ledger position (stream sequence) applied to every view."""
        return self.projector.position

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the projection runner runs already")
        start = self.position + 1
        self._commits_seen = await self._ledger_has_commits()
        # The feed reads raw frames on a connection of its own (streams/push_frames.py):
        # the LEDGER's bulk traffic does not queue in front of the node's requests.
        self._feed_nc = await connect_frames(
            server_url(self.nc),
            name="hiveledger-projector-feed",
            connect_timeout=5,
            max_reconnect_attempts=-1,
        )
        self._feed = LedgerFeed(
            self._feed_nc,
            self.stream,
            self.prefix,
            start,
            max_queue_bytes=self.max_queue_bytes,
        )
        try:
            await self._feed.start()
        except BaseException:
            feed_nc, self._feed_nc, self._feed = self._feed_nc, None, None
            with contextlib.suppress(Exception):
                await feed_nc.close()
            raise
        self.stats.started_at = time.time()
        self._task = asyncio.create_task(self._run(self._feed), name="projection-runner")
        log.info(
            "projection runner started: %s -> %s from seq %d (views at %s; rebuilt: %s)",
            self.stream,
            self.db.path,
            start,
            self.projector.positions,
            ", ".join(self.projector.reset) or "none",
            extra={
                "stream": self.stream,
                "from_seq": start,
                "views": self.projector.positions,
                "rebuilt": self.projector.reset,
                "db": self.db.path,
            },
        )

    async def _ledger_has_commits(self) -> bool:
        """Whether the stream's last message carries a commit record (a ledger written by
        the sequencer), so that the very first take already waits for whole writes. A
        stream without Direct Get (some tests') answers False: the takes then tell."""
        try:
            last = await direct_get_last(self.nc, self.stream, f"{self.prefix}.>")
        except (JetStreamApiError, *NatsErrors) as err:
            log.debug("no look at the ledger's last message: %s", err)
            return False
        return bool(last is not None and last.headers.get(COMMIT_HEADER))

    async def _run(self, feed: LedgerFeed) -> None:
        loop = asyncio.get_running_loop()
        carried: list[RawMsg] = []
        carried_since = 0.0  # when the carried tail (a write without its commit yet) began
        try:
            while not self._stopping:
                taken = await feed.take(self.batch_size, timeout=IDLE_WAIT)
                if self._stopping:
                    continue
                if not taken and not carried:
                    await self._checkpoint_if_idle(loop)
                    continue
                if len(taken) >= GATHER_FROM:
                    taken = await self._gather(feed, taken)
                if not self._commits_seen:
                    self._commits_seen = any(COMMIT_HEADER in (r.headers or {}) for r in taken)
                stalled = bool(carried) and loop.time() - carried_since >= WRITE_WAIT_S
                caught_up = feed.pending == 0 and (not self._commits_seen or stalled)
                tail = len(carried)
                raws, carried = split_at_last_commit([*carried, *taken], caught_up)
                if carried and (raws or not tail):
                    carried_since = loop.time()
                if not raws:
                    continue
                result = await loop.run_in_executor(self._executor, self.projector.apply, raws)
                await self._after(result, feed.pending)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.error = err
            log.exception(
                "projection runner failed at position %d; views stay at their last committed "
                "batch (%s)",
                self.position,
                self.db.path,
                extra={"position": self.position, "db": self.db.path},
            )
            async with self._advanced:
                self._advanced.notify_all()

    async def _checkpoint_if_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        wal = self.db.wal_bytes()
        if wal < self.idle_checkpoint_bytes or loop.time() < self._checkpoint_retry_at:
            return
        started = time.perf_counter()
        done = await loop.run_in_executor(self._executor, self.db.checkpoint)
        if not done:  # a reader's transaction was open: try again a while later
            self._checkpoint_retry_at = loop.time() + CHECKPOINT_RETRY_S
            return
        log.info(
            "idle checkpoint of %s: %.1f MB of WAL folded in, in %.0f ms",
            self.db.path,
            wal / 2**20,
            (time.perf_counter() - started) * 1000,
            extra={"db": self.db.path, "wal_bytes": wal},
        )

    async def _gather(self, feed: LedgerFeed, taken: list[RawMsg]) -> list[RawMsg]:
        """Wait up to GATHER_S for more, while the batch is under GATHER_MIN messages (or
        under the batch size, when that is smaller: a full batch takes no more)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + GATHER_S
        while len(taken) < min(GATHER_MIN, self.batch_size) and not self._stopping:
            left = until - loop.time()
            if left <= 0:
                break
            more = await feed.take(self.batch_size - len(taken), timeout=left)
            taken.extend(more)
        return taken

    async def _after(self, result: BatchResult, backlog: int) -> None:
        stats = self.stats
        lag_ms = max(0.0, time.time() * 1000 - result.published_ns / 1e6)
        stats.batches += 1
        stats.messages += result.messages
        stats.events += result.events
        stats.last_batch_size = result.messages
        stats.last_apply_ms = result.apply_ms
        stats.last_lag_ms = lag_ms
        stats.max_lag_ms = max(stats.max_lag_ms, lag_ms)
        stats.backlog = backlog
        log.debug(
            "projected %d..%d: %d messages (%d events) in %.1f ms, lag %.0f ms, backlog %d",
            result.first_seq,
            result.last_seq,
            result.messages,
            result.events,
            result.apply_ms,
            lag_ms,
            backlog,
            extra={
                "first_seq": result.first_seq,
                "last_seq": result.last_seq,
                "messages": result.messages,
                "events": result.events,
                "apply_ms": round(result.apply_ms, 2),
                "lag_ms": round(lag_ms, 1),
                "backlog": backlog,
            },
        )
        async with self._advanced:
            self._advanced.notify_all()
        if self.on_projected is not None:
            try:
                outcome = self.on_projected(result.last_seq, result.txids)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception(
                    "on_projected callback failed at seq %d",
                    result.last_seq,
                    extra={"last_seq": result.last_seq},
                )

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Wait until every view has applied ``seq``; False on timeout or runner failure."""

        async def reached() -> None:
            async with self._advanced:
                await self._advanced.wait_for(
                    lambda: self.position >= seq or self.error is not None
                )

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            return False
        return self.position >= seq

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop reading, let the batch in flight finish until ``timeout``, then interrupt it."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        if self._feed is not None:
            await self._feed.stop()
        if self._feed_nc is not None:
            with contextlib.suppress(Exception):
                await self._feed_nc.close()
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                log.warning(
                    "projection batch still running at the %.1f s deadline; interrupting it "
                    "(it rolls back; the next start redoes it)",
                    timeout,
                )
                self.db.interrupt_writer()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        log.info(
            "projection runner stopped at seq %d after %d batches, %d events (%s)",
            self.position,
            self.stats.batches,
            self.stats.events,
            self.db.path,
            extra={
                "position": self.position,
                "batches": self.stats.batches,
                "events": self.stats.events,
                "db": self.db.path,
            },
        )

    def figures(self) -> dict[str, float]:
        """Current figures, flat, for /metrics and status pages."""
        stats = self.stats
        return {
            "position": self.position,
            "batches": stats.batches,
            "messages": stats.messages,
            "events": stats.events,
            "last_batch_size": stats.last_batch_size,
            "last_apply_ms": stats.last_apply_ms,
            "last_lag_ms": stats.last_lag_ms,
            "max_lag_ms": stats.max_lag_ms,
            "backlog": stats.backlog,
            "feed_restarts": self._feed.restarts if self._feed is not None else 0,
            "failed": 1 if self.error is not None else 0,
        }
