"""One entry for every command: find its handler, run it, check conservation."""

from __future__ import annotations

from typing import Any

from domain.book import Book
from domain.conservation import assert_conserved
from domain.handlers import HANDLERS
from domain.market_handlers import MARKET_HANDLERS
from domain.settlement import tick


def execute(command: Any, book: Book) -> None:
    """Events on success; LedgerError (and nothing changed) when refused."""
    handler = HANDLERS.get(type(command))
    if handler is not None:  # transfers and mints check conservation themselves, cheaply
        handler(command, book)
        return
    mark = book.mark()
    MARKET_HANDLERS[type(command)](command, book)
    assert_conserved(book.events_since(mark))


def run_clock(book: Book, now: int, limit: int | None = None) -> list[str]:
    """Settle, expire or move to validation the tasks due at ``now`` (the first ``limit``
    of them, or all)."""
    if book.market is None:
        return []
    mark = book.mark()
    moved = tick(book, now, limit)
    assert_conserved(book.events_since(mark))
    return moved
