"""Apply decoded LEDGER batches to the views, each batch in ONE DuckDB transaction.

Every view keeps its own tracking position (application name = view name). A batch's
rows and the new positions of every view it touched commit together, so a crash leaves
each view exactly at a batch boundary: nothing applied twice, nothing skipped. A view
added later (or rebuilt after a version change) starts at 0 and catches up while the
others skip what they already have.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
from eventsourcing.persistence import Tracking

from projections.db import ProjectionDB
from projections.records import RawMsg, decode_batch
from projections.tracking import read_positions, record_positions
from projections.views.base import View

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    first_seq: int
    last_seq: int
    messages: int
    events: int
    txids: list[str] = field(default_factory=list)
    apply_ms: float = 0.0  # decode + DuckDB transaction
    published_ns: int = 0  # JetStream timestamp of the batch's last message


class Projector:
    """The synchronous core: views, their positions, one transaction per batch.

    Use it from one thread at a time (the runner's writer thread).
    """

    def __init__(self, db: ProjectionDB, views: Sequence[View], prefix: str) -> None:
        names = [v.name for v in views]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique: {names}")
        self.db = db
        self.views = list(views)
        self.prefix = prefix
        self.reset = db.install(self.views)
        for view in self.views:
            view.prepare(db.writer)
        stored = read_positions(db.writer, names)
        self.positions: dict[str, int] = {name: stored.get(name, 0) for name in names}

    @property
    def position(self) -> int:
        """The ledger position every view has reached."""
        return min(self.positions.values(), default=0)

    def apply(self, raws: Sequence[RawMsg]) -> BatchResult:
        """Decode and apply consecutive messages; all or nothing."""
        started = time.perf_counter()
        batch = decode_batch(raws, self.prefix)
        con = self.db.writer
        moved: dict[str, int] = {}
        con.begin()
        try:
            for view in self.views:
                position = self.positions[view.name]
                if batch.last_seq <= position:
                    continue
                view.apply(con, batch.after(position))
                moved[view.name] = batch.last_seq
            record_positions(con, [Tracking(name, seq) for name, seq in moved.items()])
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise
        self.positions.update(moved)
        return BatchResult(
            first_seq=batch.first_seq,
            last_seq=batch.last_seq,
            messages=len(raws),
            events=len(batch.events),
            txids=batch.txids(),
            apply_ms=(time.perf_counter() - started) * 1000,
            published_ns=batch.published_ns,
        )
