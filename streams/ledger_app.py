"""The ledger's eventsourcing application: loads aggregates, records batches atomically.

Persistence is whatever ``PERSISTENCE_MODULE`` names: ``streams.persistence`` (JetStream)
for nodes, ``eventsourcing.popo`` for fast unit tests. The sequencer is its only writer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import PersistenceError, ProcessRecorder, Recording, Tracking

from domain.base import LedgerAggregate
from domain.chain import Chain
from domain.market import Market
from domain.transaction import TxRecord
from domain.wallet import Wallet
from streams.jetstream import MAX_BATCH_MESSAGES, multi_last
from streams.recorders import JetStreamRecorder
from streams.subjects import aggregate_subject

MULTI_LAST_MAX = 1000  # the server answers at most 1024 subjects per request


class AggregateCache:
    """A bounded LRU of aggregates (None: known not to exist); the working set stays in memory."""

    def __init__(self, maxsize: int = 200_000) -> None:
        assert maxsize > 0
        self.maxsize = maxsize
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        if key in self._items:
            self._items.move_to_end(key)
            return True, self._items[key]
        return False, None

    def put(self, key: str, aggregate: Any) -> None:
        self._items[key] = aggregate
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class PendingRecord(Protocol):
    def wait(self) -> Sequence[int]:
        """Block until the write is stored; raise its error if it was not."""
        ...

    def failed_unsent(self) -> bool:
        """True if the write failed before anything of it was sent."""
        ...


class RecordedAlready:
    """A write already made (a recorder that cannot pipeline), or one that failed before
    it was sent: ``wait()`` raises its error, as for a write that failed in flight."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def wait(self) -> Sequence[int]:
        if self.error is not None:
            raise self.error
        return []

    def failed_unsent(self) -> bool:
        return self.error is not None


class LedgerApplication(Application[str]):
    """Aggregates by id, with a wallet cache; atomic saves with an upstream tracking record."""

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {"TRANSCODER_TOPIC": "streams.transcoder:MsgspecTranscoder"}

    def __init__(self, env: dict[str, str] | None = None, cache_size: int = 200_000) -> None:
        super().__init__(env)
        self.cache = AggregateCache(cache_size)

    def construct_recorder(self) -> ProcessRecorder:
        """A process recorder: events and the upstream (INTAKE) position in one write."""
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def get_or_none(self, aggregate_id: str) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def load(self, aggregate_id: str) -> Any:
        """An aggregate by id through the cache, or None when it has no events."""
        hit, aggregate = self.cache.get(aggregate_id)
        if not hit:
            aggregate = self.get_or_none(aggregate_id)
            self.cache.put(aggregate_id, aggregate)
        return aggregate

    def preload_absent(self, aggregate_ids: Iterable[str]) -> None:
        """Learn in one request which of ``aggregate_ids`` have no events yet, so a batch
        that opens many new wallets does not ask the store about each one in turn."""
        missing = [i for i in dict.fromkeys(aggregate_ids) if not self.cache.get(i)[0]]
        datastore = getattr(self.factory, "datastore", None)
        if not missing or datastore is None:
            return
        store = datastore()
        for start in range(0, len(missing), MULTI_LAST_MAX):
            ids = missing[start : start + MULTI_LAST_MAX]
            subjects = [aggregate_subject(store.prefix, i) for i in ids]
            found = store.run(multi_last(store.nc, store.stream, subjects))
            present = {m.subject for m in found.messages}
            for aggregate_id, subject in zip(ids, subjects, strict=True):
                if subject not in present:
                    self.cache.put(aggregate_id, None)

    def load_wallet(self, address: str) -> Wallet | None:
        wallet: Wallet | None = self.load(Wallet.create_id(address))
        return wallet

    def load_market(self, chain_id: str) -> Market | None:
        market: Market | None = self.load(Market.create_id(chain_id))
        return market

    def load_chain(self, chain_id: str) -> Chain | None:
        chain: Chain | None = self.load(Chain.create_id(chain_id))
        return chain

    def exists(self, aggregate_id: str) -> bool:
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    def record(
        self, aggregates: Iterable[LedgerAggregate], tracking: Tracking | None = None
    ) -> Sequence[Recording[str]]:
        """Save every pending event of ``aggregates`` (and ``tracking``) in one atomic write."""
        processing = ProcessingEvent[str](tracking)
        changed = list(aggregates)
        # What ProcessingEvent.collect_events does, without its runtime Protocol checks
        # (typing's isinstance on a Protocol costs tens of microseconds per aggregate).
        for aggregate in changed:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._keep(changed)
        return recordings

    def submit(
        self, aggregates: Iterable[LedgerAggregate], tracking: Tracking | None = None
    ) -> PendingRecord:
        """Like ``record``, but returns once the write is sent: ``wait()`` for its outcome.

        Only the JetStream recorder can pipeline; any other recorder writes at once. The
        aggregates are cached as if the write had landed: after a failed ``wait()``, call
        ``forget()`` (writes sent after a failed one fail too: see LedgerWriter.submit)."""
        changed = list(aggregates)
        events = [e for aggregate in changed for e in aggregate.collect_events()]
        recorder = self.recorder
        pending: PendingRecord
        try:
            if isinstance(recorder, JetStreamRecorder):
                stored = list(map(self.mapper.to_stored_event, events))
                pending = recorder.submit_events(stored, tracking)
            else:
                processing = ProcessingEvent[str](tracking)
                processing.events.extend(events)
                self._record(processing)
                pending = RecordedAlready()
        except PersistenceError as error:
            pending = RecordedAlready(error)
        self._keep(changed)
        return pending

    def _keep(self, changed: list[LedgerAggregate]) -> None:
        """Cache what was written, transaction records aside (decided once, never loaded)."""
        for aggregate in changed:
            if not isinstance(aggregate, TxRecord):
                self.cache.put(aggregate.id, aggregate)

    def negotiate_batch_limit(self, wanted: int) -> int:
        """Messages one write may hold from now on: ``wanted``, or fewer if the JetStream
        server takes less (streams/atomic_batch.py ``probe_batch_limit``). Any other
        recorder keeps at most the server default, so it batches as a default server."""
        recorder = self.recorder
        if not isinstance(recorder, JetStreamRecorder):
            return min(wanted, MAX_BATCH_MESSAGES)
        datastore = recorder.datastore
        limit: int = datastore.run(datastore.writer.negotiate_batch_limit(wanted))
        return limit

    @property
    def batch_limit(self) -> int:
        """Messages one write may hold now (lowered by the writer if the server refused a
        batch for its size)."""
        recorder = self.recorder
        if not isinstance(recorder, JetStreamRecorder):
            return MAX_BATCH_MESSAGES
        limit: int = recorder.datastore.writer.batch_limit
        return limit

    def forget(self) -> None:
        """Drop every cached aggregate, and what the JetStream writer presumed of writes
        in flight: after a failed write, memory may be ahead of the store."""
        self.cache.clear()
        if isinstance(self.recorder, JetStreamRecorder):
            self.recorder.datastore.writer.reset()
