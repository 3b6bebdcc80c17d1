"""The DuckDB tracking recorder passes eventsourcing's own TrackingRecorder contract."""

from __future__ import annotations

import tempfile
from pathlib import Path

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.tests.persistence import TrackingRecorderTestCase

from projections.db import ProjectionDB
from projections.tracking import DuckDBTrackingRecorder, record_positions


class TestDuckDBTrackingRecorder(TrackingRecorderTestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self._dbs: list[ProjectionDB] = []

    def tearDown(self) -> None:
        for db in self._dbs:
            db.close()
        self._tmp.cleanup()

    def create_recorder(self) -> DuckDBTrackingRecorder:
        db = ProjectionDB(Path(self._tmp.name) / f"t{len(self._dbs)}.duckdb")
        self._dbs.append(db)
        return db.tracking


def test_positions_commit_with_the_rows_or_not_at_all(tmp_path: Path) -> None:
    with ProjectionDB(tmp_path / "p.duckdb") as db:
        con = db.writer
        con.execute("CREATE TABLE rows (seq BIGINT)")
        con.begin()
        con.execute("INSERT INTO rows VALUES (1), (2)")
        record_positions(con, [Tracking("view", 2)])
        con.rollback()
        assert db.tracking.max_tracking_id("view") is None
        assert con.execute("SELECT count(*) FROM rows").fetchone() == (0,)
        con.begin()
        con.execute("INSERT INTO rows VALUES (1), (2)")
        record_positions(con, [Tracking("view", 2), Tracking("other", 2)])
        con.commit()
        assert db.tracking.positions() == {"view": 2, "other": 2}


def test_a_replayed_position_is_refused_inside_the_transaction(tmp_path: Path) -> None:
    with ProjectionDB(tmp_path / "p.duckdb") as db:
        db.tracking.insert_tracking(Tracking("view", 5))
        db.writer.begin()
        try:
            record_positions(db.writer, [Tracking("view", 5)])
        except IntegrityError:
            db.writer.rollback()
        else:  # pragma: no cover
            raise AssertionError("a position not above the stored one must be refused")
        assert db.tracking.max_tracking_id("view") == 5
