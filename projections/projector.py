"""Apply LEDGER batches to the views, each batch in ONE DuckDB transaction.

Per batch: the messages are staged with one appender flush into the writer connection's
TEMP table ``ledger_batch``; each view then applies the part after its own position with
set-based SQL (DuckDB runs it in C++, without the GIL, leaving Python time to the NATS
feed); the views' new tracking positions are written; one commit. A crash leaves every
view exactly at a batch boundary: nothing applied twice, nothing skipped. A view added
later (or rebuilt after a version change) starts at 0 and catches up while the others
skip what they already have.
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
from projections.records import Batch, ProjectionError, RawMsg, stage_rows
from projections.tracking import read_positions, record_positions
from projections.views.base import BATCH_EVENTS, BODY_MACRO, STAGE_DDL, View

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    first_seq: int
    last_seq: int
    messages: int
    events: int  # messages that are events (the rest is bookkeeping)
    txids: list[str] = field(default_factory=list)
    apply_ms: float = 0.0  # staging, views, tracking and commit
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
        con = db.writer
        for statement in (STAGE_DDL, BATCH_EVENTS.format(start=len(prefix) + 2), BODY_MACRO):
            con.execute(statement)
        self.reset = db.install(self.views)
        stored = read_positions(con, names)
        self.positions: dict[str, int] = {name: stored.get(name, 0) for name in names}

    @property
    def position(self) -> int:
        """The ledger position every view has reached."""
        return min(self.positions.values(), default=0)

    def apply(self, raws: Sequence[RawMsg]) -> BatchResult:
        """Apply consecutive messages to every view that has not got them; all or nothing."""
        started = time.perf_counter()
        batch = Batch(raws, self.prefix)
        staged = stage_rows(raws, self.prefix)
        con = self.db.writer
        moved: dict[str, int] = {}
        con.begin()
        try:
            with con.appender("ledger_batch") as appender:
                appender.append_rows(staged.rows)
            for view in self.views:
                position = self.positions[view.name]
                if batch.last_seq <= position:
                    continue
                view.apply(con, batch.after(position))
                moved[view.name] = batch.last_seq
            con.execute("DELETE FROM ledger_batch")
            record_positions(con, [Tracking(name, seq) for name, seq in moved.items()])
            con.commit()
        except duckdb.InterruptException:
            self._rollback()
            raise
        except duckdb.Error as err:
            culprit = self._culprit()
            self._rollback()
            raise ProjectionError(
                f"batch {batch.first_seq}..{batch.last_seq}{culprit}: {err}"
            ) from err
        except BaseException:
            self._rollback()
            raise
        self.positions.update(moved)
        return BatchResult(
            first_seq=batch.first_seq,
            last_seq=batch.last_seq,
            messages=len(raws),
            events=staged.events,
            txids=staged.txids,
            apply_ms=(time.perf_counter() - started) * 1000,
            published_ns=batch.published_ns,
        )

    def _culprit(self) -> str:
        """Name the first staged message whose data is not JSON, if that is what failed."""
        with contextlib.suppress(duckdb.Error):
            row = self.db.writer.execute(
                "SELECT min(seq) FROM ledger_batch WHERE topic IS NOT NULL AND NOT json_valid(data)"
            ).fetchone()
            if row and row[0] is not None:
                return f" (seq {row[0]}: data is not JSON)"
        return ""

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.db.writer.rollback()
