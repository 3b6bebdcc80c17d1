"""What a view is: tables, DDL, and a batch apply that never writes one row per statement.

To add a view: write a file in this package with a ``View`` subclass (name, version,
tables, ddl, apply) and add it to ``DEFAULT_VIEWS`` in ``__init__.py``. Bump ``version``
when its tables change: the next start drops them and rebuilds the view from the ledger.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import duckdb

from projections.records import Batch, ProjectionError


class View(ABC):
    """One projection of the LEDGER into DuckDB tables, with its own tracking position."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]]
    ddl: ClassVar[tuple[str, ...]]  # CREATE ... IF NOT EXISTS, run at every start
    staging_ddl: ClassVar[tuple[str, ...]] = ()  # TEMP tables on the writer connection

    def prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the view's staging tables on the writer connection (temp, per connection)."""
        for statement in self.staging_ddl:
            con.execute(statement)

    @abstractmethod
    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        """Apply ``batch`` inside the writer's open transaction: bulk appends and
        set-based statements only."""


def append_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Bulk-insert ``rows`` with DuckDB's appender: one flush, in the open transaction."""
    if rows:
        with con.appender(table) as appender:
            appender.append_rows(rows)


def changed_rows(con: duckdb.DuckDBPyConnection, statement: str) -> int:
    row = con.execute(statement).fetchone()
    return int(row[0]) if row else 0


def expect_rows(
    con: duckdb.DuckDBPyConnection, statement: str, expected: int, what: str, batch: Batch
) -> None:
    """Run a set-based UPDATE/INSERT and check it touched exactly ``expected`` rows.

    A mismatch means an event for something the view never saw created: a bug or a ledger
    not written by hiveledger. It fails the batch rather than losing the figure.
    """
    changed = changed_rows(con, statement)
    if changed != expected:
        raise ProjectionError(
            f"{what}: {changed} rows changed, {expected} expected, "
            f"in batch {batch.first_seq}..{batch.last_seq}"
        )


def clear(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    for table in tables:
        con.execute(f"DELETE FROM {table}")
