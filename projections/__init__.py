"""DuckDB projections of the LEDGER: views, their batch runner, and read-only SQL.

The node's composition root uses::

    db = open_projection_db(path)                    # one per process, owns the file
    runner = BatchProjectionRunner(db, nc, stream="LEDGER", prefix="hive.ledger",
                                   on_projected=callback)
    await runner.start(); ...; await runner.stop(timeout=5.0)
    result = run_sql(db, "SELECT ...", timeout=5.0, max_rows=1000)   # in a thread
    db.close()
"""

from __future__ import annotations

from pathlib import Path

from projections.db import ProjectionDB, delete_database
from projections.records import ProjectionError
from projections.runner import BatchProjectionRunner, OnProjected, ProjectionStats
from projections.sql import SqlResult, run_sql
from projections.tracking import DuckDBTrackingRecorder
from projections.views import View, default_views


def open_projection_db(path: str | Path, *, threads: int | None = None) -> ProjectionDB:
    """Open (or create) the projections' DuckDB file; the process then owns it."""
    return ProjectionDB(path, threads=threads)


__all__ = [
    "BatchProjectionRunner",
    "DuckDBTrackingRecorder",
    "OnProjected",
    "ProjectionDB",
    "ProjectionError",
    "ProjectionStats",
    "SqlResult",
    "View",
    "default_views",
    "delete_database",
    "open_projection_db",
    "run_sql",
]
