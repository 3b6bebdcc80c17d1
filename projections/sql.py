"""Read-only SQL from users over the projections.

Layers, each enough to stop a write on its own:

1. DuckDB's own parser (``extract_statements``): exactly one statement, of type SELECT
   (which covers WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE) or EXPLAIN of one
   (EXPLAIN ANALYZE runs its statement, so the explained statement is parsed and checked
   too). Everything else (INSERT/UPDATE/DELETE/MERGE, DDL, ATTACH, COPY, EXPORT, PRAGMA,
   SET/RESET/USE, LOAD/INSTALL, CALL, PREPARE/EXECUTE, transactions) is SQL_REFUSED.
2. The statement runs in ``BEGIN TRANSACTION READ ONLY`` on a fresh cursor.
3. The database runs with ``enable_external_access = false`` (no file functions such as
   read_csv, glob, COPY, ATTACH of files, extension loading) and ``lock_configuration =
   true`` (no SET can lift any of it), see projections/db.py. A refused file access is
   SQL_REFUSED.

A timer interrupts the query after ``timeout`` seconds (SQL_TIMEOUT); at most ``max_rows``
rows are fetched (results stream, so a huge result costs no more than the cap), with
``truncated`` set when more existed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from domain.errors import ErrorCode, LedgerError
from projections.db import ProjectionDB

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_ROWS = 1000
MAX_SQL_CHARS = 100_000
ALLOWED = (duckdb.StatementType.SELECT,)


@dataclass(frozen=True, slots=True)
class SqlResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float


def _parse(con: duckdb.DuckDBPyConnection, text: str) -> list[Any]:
    try:
        return list(con.extract_statements(text))
    except duckdb.Error as err:
        raise LedgerError(ErrorCode.SQL_ERROR, _first_line(err)) from None


def _explained(text: str) -> str:
    """The statement an EXPLAIN statement explains: the text after EXPLAIN [ANALYZE|(...)]."""
    tokens = duckdb.tokenize(text)
    i = 1  # token 0 is EXPLAIN
    if i < len(tokens) and text[tokens[i][0] :].upper().startswith(("ANALYZE", "ANALYSE")):
        i += 1
    if i < len(tokens) and text[tokens[i][0]] == "(":
        depth = 0
        while i < len(tokens):
            char = text[tokens[i][0]]
            depth += (char == "(") - (char == ")")
            i += 1
            if depth == 0:
                break
    if i >= len(tokens):
        raise LedgerError(ErrorCode.SQL_REFUSED, "EXPLAIN of nothing")
    return text[tokens[i][0] :]


def check_read_only(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Refuse anything but one SELECT (or EXPLAIN of one), using DuckDB's parser."""
    if len(text) > MAX_SQL_CHARS:
        raise LedgerError(ErrorCode.SQL_REFUSED, f"statement longer than {MAX_SQL_CHARS} chars")
    statements = _parse(con, text)
    if len(statements) != 1:
        raise LedgerError(
            ErrorCode.SQL_REFUSED, f"exactly one statement is allowed, got {len(statements)}"
        )
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        inner = _parse(con, _explained(statement.query))
        if len(inner) != 1 or inner[0].type not in ALLOWED:
            kind = inner[0].type.name if len(inner) == 1 else "several statements"
            raise LedgerError(ErrorCode.SQL_REFUSED, f"EXPLAIN of {kind} is not allowed")
        return
    if statement.type not in ALLOWED:
        raise LedgerError(
            ErrorCode.SQL_REFUSED,
            f"{statement.type.name} statements are not allowed; only SELECT, WITH and EXPLAIN",
        )


def run_sql(
    db: ProjectionDB,
    text: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> SqlResult:
    """Run one read-only statement; LedgerError SQL_REFUSED / SQL_ERROR / SQL_TIMEOUT.

    Blocking: call it from a worker thread (``asyncio.to_thread``) on an event loop.
    """
    started = time.perf_counter()
    with db.cursor() as cur:
        check_read_only(cur, text)
        timer = threading.Timer(timeout, cur.interrupt)
        cur.execute("BEGIN TRANSACTION READ ONLY")
        timer.start()
        try:
            cur.execute(text)
            description = cur.description or []
            rows = cur.fetchmany(max_rows + 1)
        except duckdb.InterruptException:
            raise LedgerError(
                ErrorCode.SQL_TIMEOUT, f"the statement ran longer than {timeout:g} s"
            ) from None
        except duckdb.PermissionException as err:
            raise LedgerError(ErrorCode.SQL_REFUSED, _first_line(err)) from None
        except duckdb.TransactionException as err:
            code = ErrorCode.SQL_REFUSED if "read-only" in str(err) else ErrorCode.SQL_ERROR
            raise LedgerError(code, _first_line(err)) from None
        except duckdb.Error as err:
            raise LedgerError(ErrorCode.SQL_ERROR, _first_line(err)) from None
        finally:
            timer.cancel()
    truncated = len(rows) > max_rows
    return SqlResult(
        columns=[d[0] for d in description],
        types=[str(d[1]) for d in description],
        rows=rows[:max_rows],
        truncated=truncated,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
