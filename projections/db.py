"""The projections' DuckDB file: one database instance per process, one writer connection.

DuckDB lets one process open a file read-write, and within that process it keeps one
database instance per file: a second ``duckdb.connect`` of the same file must use the same
configuration (it then shares the instance) and cannot be read-only. So user SQL does not
get a database of its own: it runs on cursors of this instance (see projections/sql.py),
which see committed data only (MVCC) and never block the writer.

The instance is opened with external access off and its configuration locked, for every
connection, the writer's included: the projections need neither files besides their own
nor extensions that are not built in (JSON is), and no connection can turn them back on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from projections.tracking import TRACKING_DDL, DuckDBTrackingRecorder

if TYPE_CHECKING:
    from projections.views.base import View

log = logging.getLogger(__name__)

# WAL size that triggers a checkpoint inside a commit. A checkpoint costs the projector
# about 20 µs of CPU per ledger message it folds in (compressing the new rows), whenever
# it runs, and holds the writer meanwhile. DuckDB's default (16 MB) runs it every few
# batches, in the middle of a burst. With 512 MB (about 150,000 transfers) it runs only
# under sustained load, and the runner checkpoints when idle (``checkpoint()``): a burst
# leaves the CPU to the sequencer and nats-server. The price: a node stopped uncleanly
# replays up to that much WAL when it starts again.
DEFAULT_CHECKPOINT_THRESHOLD = "512MB"

VERSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS view_versions (name VARCHAR PRIMARY KEY, version INTEGER NOT NULL)"
)


class ProjectionDB:
    """The DuckDB database holding the views and their tracking positions."""

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int | None = None,
        checkpoint_threshold: str = DEFAULT_CHECKPOINT_THRESHOLD,
    ) -> None:
        self.path = str(path)
        config: dict[str, str | bool | int] = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "checkpoint_threshold": checkpoint_threshold,
            "lock_configuration": True,
        }
        if threads:
            config["threads"] = threads
        self._root = duckdb.connect(self.path, config=config)
        self._lock = threading.Lock()
        self._closed = False
        self.writer = self.cursor()
        self.writer.execute(TRACKING_DDL)
        self.writer.execute(VERSIONS_DDL)
        self.tracking = DuckDBTrackingRecorder(self.cursor)
        log.info("projection db %s opened", self.path, extra={"path": self.path})

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to this database (its own transactions), for any one thread."""
        with self._lock:
            if self._closed:
                raise duckdb.ConnectionException(f"projection db {self.path} is closed")
            return self._root.cursor()

    def install(self, views: Sequence[View]) -> list[str]:
        """Create the views' tables; drop and recreate those whose version changed.

        Returns the names of the views (re)created empty, which the runner then rebuilds
        from the start of the ledger: projections are disposable.
        """
        con = self.writer
        reset: list[str] = []
        con.begin()
        try:
            stored = dict(con.execute("SELECT name, version FROM view_versions").fetchall())
            for view in views:
                if stored.get(view.name) != view.version:
                    for table in view.tables:
                        con.execute(f'DROP TABLE IF EXISTS "{table}"')
                    con.execute("DELETE FROM tracking WHERE application_name = ?", [view.name])
                    con.execute(
                        "INSERT OR REPLACE INTO view_versions VALUES (?, ?)",
                        [view.name, view.version],
                    )
                    reset.append(view.name)
                for statement in view.ddl:
                    con.execute(statement)
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise
        if reset:
            log.info(
                "views %s created empty in %s: they rebuild from the start of the ledger",
                ", ".join(reset),
                self.path,
                extra={"views": reset, "path": self.path},
            )
        return reset

    def wal_bytes(self) -> int:
        """Size of the write-ahead log: what the next checkpoint folds into the file."""
        try:
            return Path(f"{self.path}.wal").stat().st_size
        except OSError:
            return 0

    def checkpoint(self) -> bool:
        """Fold the WAL into the database file now, on the writer; False if DuckDB
        refused (it does while other transactions, a user's query say, are running)."""
        try:
            self.writer.execute("CHECKPOINT")
        except duckdb.Error as err:
            log.debug("checkpoint of %s deferred: %s", self.path, err)
            return False
        return True

    def interrupt_writer(self) -> None:
        """Abort the writer's running statement (its transaction then rolls back)."""
        self.writer.interrupt()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.writer.close()
        self._root.close()
        log.info("projection db %s closed", self.path, extra={"path": self.path})

    def __enter__(self) -> ProjectionDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def delete_database(path: str | Path) -> None:
    """Remove a projection file and its write-ahead log: the next run rebuilds it."""
    for name in (str(path), f"{path}.wal"):
        Path(name).unlink(missing_ok=True)
