"""Read-only user SQL over the projections: what runs, what is refused, and with which code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from domain.errors import ErrorCode, LedgerError
from projections import ProjectionDB, open_projection_db, run_sql
from projections.projector import Projector
from projections.records import RawMsg
from projections.sample import build_sample
from projections.views import default_views


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectionDB]:
    sample = build_sample(120)
    raws = [RawMsg(i + 1, s, h, d, 0) for i, (s, d, h) in enumerate(sample.messages)]
    path = tmp_path_factory.mktemp("sql") / "sql.duckdb"
    with open_projection_db(path) as db:
        Projector(db, default_views(), "hive.ledger").apply(raws)
        yield db


def refused(db: ProjectionDB, sql: str, code: ErrorCode = ErrorCode.SQL_REFUSED) -> str:
    with pytest.raises(LedgerError) as info:
        run_sql(db, sql)
    assert info.value.error_code is code, info.value
    return info.value.reason


def test_select_with_and_explain_run(db: ProjectionDB) -> None:
    result = run_sql(db, "SELECT count(*) AS n, sum(balance) AS total FROM wallets")
    assert result.columns == ["n", "total"] and result.types == ["BIGINT", "HUGEINT"]
    assert result.rows[0][0] > 0 and not result.truncated
    supply = run_sql(db, "SELECT supply FROM chain").rows[0][0]
    assert result.rows[0][1] == supply
    cte = "WITH t AS (SELECT kind, amount FROM transfers) SELECT kind, count(*) FROM t GROUP BY 1"
    assert {k for k, _ in run_sql(db, cte).rows} == {"mint", "transfer"}
    assert run_sql(db, "EXPLAIN SELECT * FROM events WHERE seq > 3").rows
    assert run_sql(db, "explain analyze select count(*) from events").rows
    assert run_sql(db, "FROM events SELECT time, data->>'amount' LIMIT 2").rows  # FROM-first
    assert run_sql(db, "DESCRIBE wallets").rows
    assert run_sql(db, "SELECT 1;").rows == [(1,)]  # one statement, trailing semicolon


def test_row_cap_sets_truncated(db: ProjectionDB) -> None:
    result = run_sql(db, "SELECT * FROM range(1000000000000)", max_rows=5)
    assert len(result.rows) == 5 and result.truncated
    exact = run_sql(db, "SELECT * FROM range(5)", max_rows=5)
    assert len(exact.rows) == 5 and not exact.truncated


def test_timeout_interrupts_the_query(db: ProjectionDB) -> None:
    slow = "SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range + b.range = -1"
    with pytest.raises(LedgerError) as info:
        run_sql(db, slow, timeout=0.3)
    assert info.value.error_code is ErrorCode.SQL_TIMEOUT
    assert run_sql(db, "SELECT 42").rows == [(42,)]  # the database is fine afterwards


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO wallets (address) VALUES ('x')",
        "UPDATE wallets SET balance = 0",
        "DELETE FROM events",
        "MERGE INTO chain USING chain AS c ON chain.chain_id = c.chain_id WHEN MATCHED THEN DELETE",
        "CREATE TABLE t (a INT)",
        "CREATE MACRO m() AS 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE events",
        "ALTER TABLE wallets ADD COLUMN x INT",
        "TRUNCATE events",
        "ATTACH 'other.duckdb' AS other",
        "DETACH other",
        "COPY events TO 'events.csv'",
        "EXPORT DATABASE 'dump'",
        "PRAGMA database_list",
        "SET threads = 1",
        "RESET threads",
        "SET enable_external_access = true",
        "USE memory",
        "LOAD json",
        "INSTALL httpfs",
        "CALL pragma_version()",
        "CHECKPOINT",
        "VACUUM",
        "BEGIN TRANSACTION",
        "PREPARE p AS SELECT 1",
        "EXPLAIN ANALYZE DELETE FROM events",
        "EXPLAIN UPDATE wallets SET balance = 0",
        "SELECT 1; SELECT 2",
        "SELECT 1; DELETE FROM events",
        "",
    ],
)
def test_everything_but_reading_is_refused(db: ProjectionDB, sql: str) -> None:
    before = run_sql(db, "SELECT count(*), sum(balance) FROM wallets").rows
    refused(db, sql)
    assert run_sql(db, "SELECT count(*), sum(balance) FROM wallets").rows == before
    assert run_sql(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'").rows == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('x.parquet')",
        "SELECT * FROM read_json_auto('/etc/os-release')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
    ],
)
def test_file_functions_are_refused(db: ProjectionDB, sql: str) -> None:
    assert "disabled by configuration" in refused(db, sql)


def test_bad_sql_is_an_sql_error(db: ProjectionDB) -> None:
    refused(db, "SELEC 1", ErrorCode.SQL_ERROR)
    refused(db, "SELECT * FROM no_such_table", ErrorCode.SQL_ERROR)
    refused(db, "SELECT 1/'a'", ErrorCode.SQL_ERROR)


def test_readers_see_committed_batches_only(db: ProjectionDB, tmp_path: Path) -> None:
    """A user query runs beside an open writer transaction and sees the last commit."""
    before = run_sql(db, "SELECT count(*) FROM events").rows
    writer = db.writer
    writer.begin()
    try:
        writer.execute("DELETE FROM events")
        seen: list[object] = []
        reader = threading.Thread(target=lambda: seen.append(run_sql(db, "FROM events").rows))
        reader.start()
        reader.join(10)
        assert len(seen[0]) == before[0][0]  # type: ignore[arg-type]
    finally:
        writer.rollback()


def test_explain_with_options_is_checked_too(db: ProjectionDB) -> None:
    assert run_sql(db, "EXPLAIN (FORMAT json) SELECT 1").rows
    refused(db, "EXPLAIN (FORMAT json) DELETE FROM events")


def test_configuration_is_locked_for_every_connection(db: ProjectionDB) -> None:
    """Even code that bypasses run_sql cannot turn external access back on."""
    with db.cursor() as con, pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET enable_external_access = true")
