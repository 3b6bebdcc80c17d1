"""What every CLI command shares: options from the environment, output, errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from domain.errors import ErrorCode, LedgerError
from gateways.sdk.node_http import DEFAULT_NODE, NodeHTTP

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)  # one line per error, never wrapped

NodeOption = typer.Option(DEFAULT_NODE, "--node", envvar="HIVELEDGER_NODE", help="Node URL.")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")
EXIT_REFUSED = 1
EXIT_ERROR = 2


def home() -> Path:
    return Path(os.environ.get("HIVELEDGER_HOME", Path.home() / ".hiveledger")).expanduser()


def password(confirm: bool = False) -> str:
    """From HIVELEDGER_PASSWORD, or a prompt that does not echo."""
    value = os.environ.get("HIVELEDGER_PASSWORD")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        fail(
            ErrorCode.KEYSTORE_PASSWORD,
            "no terminal to ask for a password: set HIVELEDGER_PASSWORD",
        )
    return str(typer.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm))


def fail(code: ErrorCode, message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    # The message may quote user input (a name, an SQL text): print it as text, not markup.
    err_console.print(f"[red]error[/red]: {code.code}: {escape(message)}", highlight=False)
    raise typer.Exit(exit_code)


@contextmanager
def errors_reported() -> Iterator[None]:
    """LedgerError -> one clear line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except LedgerError as error:
        fail(error.error_code, error.reason)


def node(url: str) -> NodeHTTP:
    return NodeHTTP(url)


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    if as_json or render is None:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        render(data)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, title: str = "") -> None:
    columns = columns or (list(rows[0]) if rows else [])
    out = Table(title=title or None)
    # Cells are data (memos, SQL results), never rich markup: "[/b]" in a memo must print.
    for column in columns:
        out.add_column(Text(column), overflow="fold")
    for row in rows:
        out.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    console.print(out)
