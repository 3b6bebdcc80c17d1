"""Tracking positions in DuckDB, written in the same transaction as the views' rows.

One row per application name (here: per view), holding the last ledger position (stream
sequence) applied. A position only rises: recording one not above the stored position
raises eventsourcing's ``IntegrityError``, the guard that makes a replayed batch fail
instead of being applied twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import duckdb
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking, TrackingRecorder

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS tracking ("
    "application_name VARCHAR PRIMARY KEY, notification_id BIGINT NOT NULL)"
)


def read_positions(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, int]:
    """Stored positions of ``names`` (absent names are left out)."""
    if not names:
        return {}
    rows = con.execute(
        "SELECT application_name, notification_id FROM tracking "
        "WHERE application_name IN (SELECT unnest($1::VARCHAR[]))",
        [list(names)],
    ).fetchall()
    return {name: int(position) for name, position in rows}


def record_positions(con: duckdb.DuckDBPyConnection, trackings: Sequence[Tracking]) -> None:
    """Record ``trackings`` inside the caller's open transaction, in one statement.

    Raises IntegrityError when any position is not above the stored one (the caller then
    rolls its transaction back).
    """
    if not trackings:
        return
    names = [t.application_name for t in trackings]
    if len(set(names)) != len(names):
        raise IntegrityError(f"one position per application in a transaction: {names}")
    moved = con.execute(
        "INSERT INTO tracking SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]) "
        "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id "
        "WHERE tracking.notification_id < excluded.notification_id "
        "RETURNING application_name",
        [names, [t.notification_id for t in trackings]],
    ).fetchall()
    if len(moved) != len(names):
        stale = sorted(set(names) - {name for (name,) in moved})
        raise IntegrityError(
            f"tracking positions of {stale} are not after the recorded ones: "
            f"{[t for t in trackings if t.application_name in stale]}"
        )


class DuckDBTrackingRecorder(TrackingRecorder):
    """eventsourcing's TrackingRecorder on a DuckDB database.

    ``cursor`` returns a fresh connection to the database (a DuckDB cursor), so each call
    runs in its own transaction and any thread may call. The batch runner does not use
    ``insert_tracking``: it calls ``record_positions`` on its writer connection inside the
    transaction that writes the views' rows.
    """

    def __init__(self, cursor: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self._cursor = cursor
        with self._cursor() as con:
            con.execute(TRACKING_DDL)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self._cursor() as con:
            con.begin()
            try:
                record_positions(con, [tracking])
                con.commit()
            except (duckdb.ConstraintException, duckdb.TransactionException) as err:
                con.rollback()
                raise IntegrityError(str(err)) from err
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                raise

    def max_tracking_id(self, application_name: str) -> int | None:
        try:
            with self._cursor() as con:
                return read_positions(con, [application_name]).get(application_name)
        except duckdb.Error as err:
            raise OperationalError(str(err)) from err

    def positions(self) -> dict[str, int]:
        """Every recorded position, by application name."""
        with self._cursor() as con:
            rows = con.execute("SELECT application_name, notification_id FROM tracking").fetchall()
        return {name: int(position) for name, position in rows}
