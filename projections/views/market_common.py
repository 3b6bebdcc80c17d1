"""What the marketplace's views share (docs/MARKET_API.md is their contract).

Each market view applies a batch in a few set-based statements:

1. ``census``: count the batch's event types for the view's aggregates, from the counts
   ``Batch.counts`` makes in one pass over a batch for all of them (subjects and topic
   headers; a statement costs more): a batch without any costs no SQL at all, and
   statements with nothing to do are skipped;
2. ``stage``: copy those events (after the view's position) into a small TEMP table;
3. one ``MERGE`` per table, whose source is the fold of the staged events into one row
   per key (task, miner, ...): counts, sums, the last status, the creating and closing
   events' JSON. A key not in the table is inserted if the batch created it; otherwise
   ``WHEN NOT MATCHED THEN ERROR`` fails the batch: an event for something the view never
   saw created is a bug or foreign data, never skipped.

Event fields are read with ``json_transform`` (one parse for all of an event's fields).
"""

from __future__ import annotations

import json
from collections import Counter

import duckdb

from projections.records import Batch

# The aggregate types of the market's views: their census is one pass over a batch.
MARKET_KINDS = ("task", "submission", "miner", "validator", "fraud", "market")

STAGE_COLUMNS = "seq BIGINT, key VARCHAR, type VARCHAR, data VARCHAR"


def stage_ddl(table: str) -> str:
    return f"CREATE TEMP TABLE IF NOT EXISTS {table} ({STAGE_COLUMNS})"


def census(batch: Batch, *types: str) -> Counter[str]:
    """How many events of each type (``Task.Joined``: ...) the batch holds after
    ``batch.since`` for the aggregate ``types`` (``task``, ...)."""
    kinds = MARKET_KINDS if set(types) <= set(MARKET_KINDS) else types
    counts = batch.counts(kinds)
    found: Counter[str] = Counter()
    for kind in types:
        found.update(counts[kind])
    return found


def stage(con: duckdb.DuckDBPyConnection, table: str, batch: Batch, *types: str) -> None:
    """Copy the batch's events of the aggregate ``types`` after ``batch.since`` into the
    TEMP table ``table`` (emptied by the caller when done).

    Read from ``ledger_batch`` by subject prefix, deriving key and type for those rows
    only: ~4x cheaper than filtering ``batch_events``, which derives every column (the
    timestamp's JSON included) for the whole batch first.
    """
    start = len(batch.prefix) + 2  # where the aggregate id begins in the subject
    heads = [f"{batch.prefix}.{t}." for t in types]
    match = " OR ".join(f"starts_with(subject, ${i + 2})" for i in range(len(heads)))
    con.execute(
        f"""INSERT INTO {table}
            SELECT seq, substr(subject, {start} + strpos(substr(subject, {start}), '.')),
                   split_part(topic, ':', 2), data
            FROM ledger_batch WHERE seq > $1 AND ({match})""",
        [batch.since, *heads],
    )


def fail(message: str, key: str) -> str:
    """The MERGE action that fails the batch, naming the key (an SQL expression)."""
    return f"ERROR concat('{message}: ', {key})"


def spec(fields: dict[str, str]) -> str:
    """A ``json_transform`` structure, as an SQL string literal."""
    return "'" + json.dumps(fields, separators=(",", ":")) + "'"


def typed(table: str, event_type: str, fields: dict[str, str]) -> str:
    """A subquery of the staged events of one type: seq, key, data and ``fields`` as typed
    columns (named as in the event)."""
    return f"""(SELECT seq, key, data, unnest(json_transform(data, {spec(fields)}))
               FROM {table} WHERE type = '{event_type}')"""


# Reputation: the domain applies each delta as r = max(0, r + delta). Over a batch's
# deltas with sum S and lowest running sum L (L <= 0: the running sum starts at 0), that
# is S + max(r0, -L), whatever r0 >= 0 was before: the floor reflects the walk at 0.
# A fold computes S as ``rep_sum`` and L as ``rep_low`` over a subquery with ``rep_run``.


def rep_run(delta: str) -> str:
    """The running sum of ``delta`` per key, in ledger order (a window column)."""
    return f"sum({delta}) OVER (PARTITION BY key ORDER BY seq) AS rep_run"


REP_FOLD = "coalesce(sum(delta), 0) AS rep_sum, least(coalesce(min(rep_run), 0), 0) AS rep_low"


def reputation(before: str, fold: str = "") -> str:
    """The reputation after a fold's deltas, from ``before`` (an SQL expression)."""
    prefix = f"{fold}." if fold else ""
    return f"CAST({prefix}rep_sum + greatest({before}, -{prefix}rep_low) AS INTEGER)"
