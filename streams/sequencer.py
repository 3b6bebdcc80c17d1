"""The sequencer: the one writer of the LEDGER stream.

It takes INTAKE in order and in batches, checked ahead of it by its check stage
(streams/check_stage.py), runs each transaction on the domain aggregates held in memory
(streams/decide.py), and records every resulting event, every transaction record
(accepted, or rejected with its code) and the position in INTAKE in ONE atomic write: a
group commit. While JetStream stores one batch, the next is decided (pipelined writes;
the commit fence refuses anything built on a write that failed). A crash anywhere
followed by a restart resumes at the recorded position, so no transaction is lost or
applied twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from eventsourcing.persistence import IntegrityError, OperationalError, Tracking
from nats.errors import Error as NatsError

from domain.book import Book
from domain.chain import Chain
from domain.dispatch import run_clock
from domain.market import Market
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from streams.check_stage import CheckedFeed, CheckStageError, InProcessFeed, check_now
from streams.decide import decide, wallet_ids
from streams.envelope import OpenedTx
from streams.intake import (
    EVENTS_MAX,
    IntakeMessage,
    IntakeSource,
    Refusal,
    events_max,
)
from streams.jetstream import LARGE_BATCH_MESSAGES, JetStreamError
from streams.ledger_app import LedgerApplication
from streams.sequencer_state import InFlight, SeenIds, SequencerStats

log = logging.getLogger(__name__)

INTAKE_APPLICATION = "INTAKE"
# Messages per LEDGER write asked of the server; it takes 1000 unless its
# limits.batch.max_msgs is raised (why larger: streams/atomic_batch.py).
LEDGER_BATCH_WANTED = LARGE_BATCH_MESSAGES
BATCH_HEADROOM = 50  # messages kept free: the tracking record, and room to spare


def events_per_batch(batch_messages: int) -> int:
    """Events one write may hold when a batch holds ``batch_messages`` messages."""
    return batch_messages - max(1, min(BATCH_HEADROOM, batch_messages // 20))


def transfers_per_batch(batch_messages: int) -> int:
    """Transfers one batch takes at most, each at its most events."""
    return max(1, events_per_batch(batch_messages) // EVENTS_MAX["transfer"])


TRANSIENT_PAUSE_MIN_S = 0.05
TRANSIENT_PAUSE_MAX_S = 2.0
# Failures that say nothing about the ledger's rules: the store or the network was slow
# or away. eventsourcing's OperationalError covers a write whose outcome is unknown.
TRANSIENT: tuple[type[BaseException], ...] = (
    TimeoutError,
    ConnectionError,
    OperationalError,
    JetStreamError,
    NatsError,
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Sequencer:
    def __init__(
        self,
        app: LedgerApplication,
        source: IntakeSource | None,
        chain_id: str,
        pool: ThreadPoolExecutor | None = None,
        clock: Callable[[], int] = now_ms,
        max_txs: int | None = None,
        feed: CheckedFeed | None = None,
        batch_messages: int | None = None,
    ) -> None:
        """``feed`` fetches and checks INTAKE (streams/check_stage.py); without one, the
        sequencer reads ``source`` itself and checks on ``pool`` (or inline).

        ``batch_messages``: messages per LEDGER write wanted (``LEDGER_BATCH_WANTED`` by
        default); fewer if the server takes fewer. ``max_txs``: transactions per batch at
        most; by default as many as fit at their most events."""
        self._max_txs_given = max_txs
        self.batch_events_max = 0
        self.max_txs = 0
        self._size_batches(app.negotiate_batch_limit(batch_messages or LEDGER_BATCH_WANTED))
        self.app = app
        self.source = source
        self._own_feed = feed is None
        if feed is None:
            assert source is not None, "a sequencer needs an intake source or a feed"
            feed = InProcessFeed(source, chain_id, pool)
        self.feed: CheckedFeed = feed
        self._asked: int | None = None  # the start of the batch asked of the feed
        self.chain_id = chain_id
        self.pool = pool
        self.clock = clock
        self.seen = SeenIds()
        self.failure: BaseException | None = None
        self.stats = SequencerStats()
        self._in_flight: InFlight | None = None
        self._unconfirmed: set[str] = set()  # txids of the batch in flight
        self._careful = False
        self.chain = self._load_chain()
        self.market = self._load_market()
        self.position = app.process_recorder.max_tracking_id(INTAKE_APPLICATION) or 0
        self.stats.position = self.position

    def _size_batches(self, batch_messages: int) -> None:
        """Size batches for writes of up to ``batch_messages`` messages."""
        events = events_per_batch(batch_messages)
        if events == self.batch_events_max:
            return
        fitting = transfers_per_batch(batch_messages)
        given = self._max_txs_given
        self.batch_events_max = events
        self.max_txs = min(given, fitting) if given is not None else fitting
        assert 0 < self.max_txs <= self.batch_events_max
        log.info(
            "LEDGER writes of up to %d messages: up to %d transactions a batch",
            batch_messages, self.max_txs,
        )  # fmt: skip

    def _load_chain(self) -> Chain:
        chain = self.app.load_chain(self.chain_id)
        if chain is None:
            raise RuntimeError(f"chain {self.chain_id!r} has no genesis in the ledger")
        return chain

    def _load_market(self) -> Market:
        market = self.app.load_market(self.chain_id)
        if market is None:  # a ledger from before the marketplace: open it now
            market = Market(chain_id=self.chain_id)
            self.app.record([market])
        return market

    def _book(self) -> Book:
        return Book(self.chain, self.app.load_wallet, self.app.load, self.market)

    # -- the loop -------------------------------------------------------------------
    def step(self, timeout: float = 1.0, *, settle: bool = True) -> int:
        """Take one batch from INTAKE and record it, then let the clock settle what is due.
        Returns how many intake messages it took.

        While a batch is being decided and recorded (mostly waiting for JetStream's ack),
        the next one is already fetched and its envelopes checked on the pool's threads.
        With ``settle=False`` the batch's write is left in flight: the next step decides
        the next batch while JetStream stores this one, and confirms it after sending its
        own (at most one write waits unconfirmed while a batch is decided)."""
        messages, checked = self._next_checked(timeout)
        taken = 0
        if messages:
            messages, checked = self._fit(messages, checked)
            self._look_ahead(messages[-1].seq + 1)
            taken = self._record_checked(messages, checked, pipelined=not settle)
        if settle or not messages:
            self.flush()
        self.tick()
        return taken

    def flush(self) -> None:
        """Confirm the write still in flight, if any."""
        flight, self._in_flight = self._in_flight, None
        if flight is not None:
            self._confirm(flight)

    def _look_ahead(self, start_seq: int) -> None:
        if self.pool is None and self._own_feed:
            return  # checks run inline: nothing to overlap them with
        self.feed.ask(start_seq, self.max_txs, 0.05)
        self._asked = start_seq

    def _next_checked(self, timeout: float) -> tuple[list[IntakeMessage], list[OpenedTx | Refusal]]:
        start = self.position + 1
        started = time.perf_counter()
        asked, self._asked = self._asked, None  # consistent whatever the feed raises
        if asked is not None and asked != start:
            self.feed.take()  # an answer for a position given up (after a reload): drop it
            asked = None
        if asked is None:
            self.feed.ask(start, self.max_txs, timeout)
        messages, checked = self.feed.take()
        self.stats.seconds_check += time.perf_counter() - started
        self.stats.ready = 1
        assert len(messages) == len(checked)
        assert not messages or messages[0].seq == start, "INTAKE answered from elsewhere"
        return messages, checked

    def tick(self) -> list[str]:
        """Record what the clock decides now (expiry, validation, settlement), if anything.

        One write per task: however many tasks fall due at the same millisecond, each write
        holds one task's events, which fit a batch (MAX_PARTICIPANTS); all of them in one
        write could exceed the server's batch limit, and fail again at every restart."""
        now = self.clock()
        due = self.market.due_tasks(now)
        if not due:
            return []
        self.flush()
        moved: list[str] = []
        for _ in range(len(due)):  # each write takes one task out of what is due now
            if not self.market.due_tasks(now):
                break
            book = self._book()
            moved += run_clock(book, now, limit=1)
            self.app.record(book.changed.values())
        self.stats.ticks += 1
        log.info("clock at %d ms closed or advanced tasks %s", now, moved)
        return moved

    def run(self, stop: threading.Event, idle_sleep_max: float = 0.02) -> None:
        """Step until ``stop``. A transient failure (a timeout, a lost connection, a write
        whose outcome is unknown) costs a resync and a pause, never the thread; anything
        else is a bug: logged, recorded in ``self.failure``, and the loop ends."""
        log.info("sequencer for chain %s resumes after intake seq %d", self.chain_id, self.position)
        idle, pause = 0.0005, TRANSIENT_PAUSE_MIN_S
        while not stop.is_set():
            try:
                took = self.step(settle=False)
            except CheckStageError as error:
                # A slow or failed INTAKE read says nothing about the ledger: memory is
                # still what LEDGER holds, so keep it (reloading it is what costs).
                self.stats.transient_errors += 1
                log.warning("sequencer: %s; asking INTAKE again in %.2fs", error, pause)
                stop.wait(pause)
                pause = min(pause * 2, TRANSIENT_PAUSE_MAX_S)
                continue
            except TRANSIENT as error:
                self.stats.transient_errors += 1
                log.warning(
                    "sequencer: %s: %s; resyncing in %.2fs", type(error).__name__, error, pause
                )
                stop.wait(pause)
                pause = min(pause * 2, TRANSIENT_PAUSE_MAX_S)
                try:
                    self._resync_after_failure(stop)
                except Exception as failure:
                    self.failure = failure
                    log.exception("sequencer stopped: resync after a failure failed")
                    return
                continue
            except Exception as error:
                self.failure = error
                log.exception(
                    "sequencer stopped by an unexpected error at intake seq %d", self.position
                )
                return
            pause = TRANSIENT_PAUSE_MIN_S
            if took:
                idle = 0.0005
            else:
                stop.wait(idle)
                idle = min(idle * 2, idle_sleep_max)
        try:
            self.flush()
        except Exception:
            log.exception("sequencer: the last write's outcome is unknown; a restart resyncs")
        log.info("sequencer stopped at intake seq %d", self.stats.position)

    def _resync_after_failure(self, stop: threading.Event) -> None:
        """Memory may be ahead of the store, and a write may or may not have landed: drop
        the cache and ask the ledger where it stands."""
        while not stop.is_set():
            try:
                self._reload()
                return
            except TRANSIENT as error:
                log.warning("sequencer: resync failed (%s); retrying", error)
                stop.wait(TRANSIENT_PAUSE_MAX_S)

    # -- one batch ------------------------------------------------------------------
    def process(self, messages: list[IntakeMessage]) -> int:
        """Decide and record a prefix of ``messages`` that fits one atomic batch; returns
        how many it took (the rest come again in the next fetch)."""
        assert messages and len(messages) <= self.max_txs
        started = time.perf_counter()
        checked = check_now(messages, self.chain_id, self.pool)
        self.stats.seconds_check += time.perf_counter() - started
        messages, checked = self._fit(messages, checked)
        return self._record_checked(messages, checked, pipelined=False)

    def _record_checked(
        self, messages: list[IntakeMessage], checked: list[OpenedTx | Refusal], pipelined: bool
    ) -> int:
        assert messages[0].seq > self.position, "intake must move forward"
        if self._careful or not pipelined:
            self._record_now(messages, checked)
            return len(messages)
        previous = self._in_flight
        flight = self._decide_and_submit(messages, checked, known_duplicates=set())
        self._in_flight = flight
        if previous is not None:
            self._confirm(previous)
        if self._in_flight is flight and flight.pending.failed_unsent():
            # Nothing was sent, so the fence would not stop a later write built on this
            # one: settle it now (a reload), before anything is decided on top of it.
            self.flush()
        return len(messages)

    def _record_now(self, messages: list[IntakeMessage], checked: list[OpenedTx | Refusal]) -> None:
        """Decide and record one batch, waiting for its ack (as after a refused write). A
        refusal may mean some of these transactions were decided long ago (a replay older
        than the intake dedup window): find which from the ledger, and decide the rest."""
        self.flush()
        try:
            self._finish(self._decide_and_submit(messages, checked, known_duplicates=set()))
        except IntegrityError:
            log.warning("ledger refused batch ending at intake seq %d; reloading", messages[-1].seq)
            self.stats.retries += 1
            self._reload()
            duplicates = {
                item.txid for item in checked if self.app.exists(TxRecord.create_id(item.txid))
            }
            self._finish(self._decide_and_submit(messages, checked, known_duplicates=duplicates))
        self._careful = False

    def _finish(self, flight: InFlight) -> None:
        try:
            self._wait(flight)
        except BaseException:
            self._unconfirmed.difference_update(flight.txids)
            raise
        self._confirmed(flight)

    def _confirm(self, flight: InFlight) -> None:
        """Wait for a pipelined write. If it failed, every write sent after it failed too
        (the commit fence): wait those out, reload from the ledger, and take INTAKE again
        from the recorded position. A refusal switches to careful, one-at-a-time batches."""
        try:
            self._wait(flight)
        except BaseException as error:
            later, self._in_flight = self._in_flight, None
            if later is not None:
                with contextlib.suppress(Exception):
                    later.pending.wait()
            self._unconfirmed.clear()
            if not isinstance(error, IntegrityError):
                raise  # run() resyncs after a transient failure; anything else stops it
            log.warning(
                "ledger refused batch ending at intake seq %d; resuming from the ledger",
                flight.last_seq,
            )
            self.stats.retries += 1
            self._careful = True
            self._reload()
            return
        self._confirmed(flight)

    def _wait(self, flight: InFlight) -> None:
        started = time.perf_counter()
        try:
            flight.pending.wait()
        finally:
            self.stats.seconds_wait += time.perf_counter() - started

    def _confirmed(self, flight: InFlight) -> None:
        self.seen.add_all(flight.txids)
        self._unconfirmed.difference_update(flight.txids)
        stats = self.stats
        stats.position, stats.batches, stats.last_batch_size = (
            flight.last_seq,
            stats.batches + 1,
            flight.size,
        )
        stats.accepted += flight.accepted
        stats.rejected += flight.rejected
        stats.duplicates += flight.duplicates

    def _reload(self) -> None:
        """Memory may be ahead of the store: drop it and ask the ledger where it stands,
        once the write still in flight (if any) has landed or failed."""
        flight, self._in_flight = self._in_flight, None
        if flight is not None:
            with contextlib.suppress(Exception):  # its outcome is read back from the ledger
                flight.pending.wait()
        self._unconfirmed.clear()
        self.app.forget()
        self._size_batches(self.app.batch_limit)  # lowered if a write was too large
        self.chain = self._load_chain()
        self.market = self._load_market()
        self.position = self.app.process_recorder.max_tracking_id(INTAKE_APPLICATION) or 0
        self.stats.position = self.position

    def _fit(
        self, messages: list[IntakeMessage], checked: list[OpenedTx | Refusal]
    ) -> tuple[list[IntakeMessage], list[OpenedTx | Refusal]]:
        budget, count = self.batch_events_max, 0
        for item in checked:
            budget -= events_max(item)
            if budget < 0:
                break
            count += 1
        assert count > 0
        return messages[:count], checked[:count]

    def _decide_and_submit(
        self,
        messages: list[IntakeMessage],
        checked: list[OpenedTx | Refusal],
        known_duplicates: set[str],
    ) -> InFlight:
        started = time.perf_counter()
        self.app.preload_absent(wallet_ids(checked))
        sequenced_at = self.clock()
        book = self._book()
        decided: dict[str, None] = {}
        records: list[TxRecord] = []
        accepted = rejected = duplicates = 0
        unconfirmed = self._unconfirmed
        for message, item in zip(messages, checked, strict=True):
            txid = item.txid
            if (
                txid in self.seen
                or txid in unconfirmed
                or txid in known_duplicates
                or (txid in decided)
            ):
                duplicates += 1
                continue
            record = decide(message, item, book, sequenced_at)
            accepted += record.status == ACCEPTED
            rejected += record.status == REJECTED
            decided[txid] = None
            records.append(record)
        executed = time.perf_counter()
        self.stats.seconds_execute += executed - started
        changed = [*book.changed.values(), *records]
        assert sum(len(a.pending_events) for a in changed) <= sum(map(events_max, checked)), (
            "a transaction added more events than EVENTS_MAX allows for its kind"
        )
        tracking = Tracking(INTAKE_APPLICATION, messages[-1].seq)
        pending = self.app.submit(changed, tracking)
        self.stats.seconds_record += time.perf_counter() - executed
        txids = list(decided)
        unconfirmed.update(txids)
        self.position = messages[-1].seq
        return InFlight(
            pending, messages[-1].seq, txids, len(messages), accepted, rejected, duplicates
        )
