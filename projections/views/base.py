"""What a view is: tables, DDL, and a batch apply that never writes one row per statement.

To add a view: write a file in this package with a ``View`` subclass (name, version,
tables, ddl, apply) and add it to ``default_views`` in ``__init__.py``. Bump ``version``
when its tables change: the next start drops them and rebuilds the view from the ledger.

``apply`` runs inside the writer's open transaction, after the batch was staged. In SQL,
read the TEMP view ``batch_events`` (see ``BATCH_EVENTS``) with ``WHERE seq > $since``
(``batch.since``: the view's own position); in Python, ``batch.of("wallet")`` decodes
that aggregate type's events. Either way: bulk statements, never one per event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import duckdb

from projections.records import Batch, ProjectionError

STAGE_DDL = """CREATE TEMP TABLE IF NOT EXISTS ledger_batch (
    seq BIGINT, subject VARCHAR, topic VARCHAR, version BIGINT, data VARCHAR,
    commit_record VARCHAR
)"""

# The staged batch's events, with the columns every view wants. {start}: the 1-based
# position of the aggregate id in the subject (after "<prefix>.").
BATCH_EVENTS = """CREATE OR REPLACE TEMP VIEW batch_events AS
SELECT seq, subject, aggregate_id,
       split_part(aggregate_id, '.', 1) AS aggregate_type,
       substr(aggregate_id, strpos(aggregate_id, '.') + 1) AS key,
       version, topic, split_part(topic, ':', 2) AS type, data,
       CAST(data->>'$.timestamp._data_' AS TIMESTAMPTZ) AS time
FROM (SELECT *, substr(subject, {start}) AS aggregate_id FROM ledger_batch
      WHERE topic IS NOT NULL)"""

# The signed body inside a TxRecord's envelope (base64 of the DSSE JSON, whose payload is
# base64 of the body JSON); NULL when it does not decode (a rejected envelope may be junk).
BODY_MACRO = """CREATE OR REPLACE TEMP MACRO tx_body(envelope) AS try(json(decode(from_base64(
    json_extract_string(decode(from_base64(envelope)), '$.payload')))))"""


class View(ABC):
    """One projection of the LEDGER into DuckDB tables, with its own tracking position."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]]
    # CREATE ... IF NOT EXISTS, run on the writer connection at every start (TEMP objects
    # made here live on the writer connection, where ``apply`` runs)
    ddl: ClassVar[tuple[str, ...]]

    @abstractmethod
    def apply(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        """Apply the staged ``batch`` (rows after ``batch.since``) in the open transaction."""


def changed_rows(
    con: duckdb.DuckDBPyConnection, statement: str, params: Sequence[Any] | None = None
) -> int:
    row = con.execute(statement, params).fetchone()
    return int(row[0]) if row else 0


def expect_rows(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    params: Sequence[Any] | None,
    expected: int,
    what: str,
    batch: Batch,
) -> None:
    """Run a set-based UPDATE/INSERT and check it touched exactly ``expected`` rows.

    A mismatch means an event for something the view never saw created: a bug or a ledger
    not written by hiveledger. It fails the batch rather than losing the figure.
    """
    changed = changed_rows(con, statement, params)
    if changed != expected:
        raise ProjectionError(
            f"{what}: {changed} rows changed, {expected} expected, "
            f"in batch {batch.first_seq}..{batch.last_seq}"
        )
