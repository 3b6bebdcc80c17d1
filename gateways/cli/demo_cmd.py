"""hiveledger demo: drive a believable network against a running node (gateways/demo/)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from domain.errors import ErrorCode, LedgerError
from gateways.cli.common import (
    EXIT_REFUSED,
    JsonOption,
    NodeOption,
    console,
    emit,
    err_console,
    errors_reported,
    fail,
    home,
    password,
)
from streams.keystore import Keystore


class RichReporter:
    """One progress row per phase; the market's row counts the tasks that are final."""

    def __init__(self, out: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=out,
        )  # fmt: skip
        self.current: TaskID | None = None
        self.label = ""

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self._finish()
        self.progress.stop()

    def _finish(self) -> None:
        if self.current is not None:
            total = self.progress.tasks[-1].total or 1
            self.progress.update(self.current, total=total, completed=total)

    def phase(self, text: str) -> None:
        self._finish()
        self.label = text
        self.current = self.progress.add_task(text, total=None)

    def tasks(self, final: int, total: int, detail: str) -> None:
        if self.current is not None:
            self.progress.update(self.current, total=total, completed=final,
                                 description=f"{self.label}: {detail}")  # fmt: skip


@contextmanager
def demo_logging(verbose: bool, out: Console) -> Iterator[None]:
    """Diagnostics through logging onto stderr: warnings, or everything with -v. The
    auto-miners' routine refusals (a full task, say) are shown only with -v."""
    handler = RichHandler(console=out, show_path=False, show_time=False)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    ours, miners = logging.getLogger("gateways"), logging.getLogger("gateways.sdk.automining")
    saved = ours.level, miners.level
    logging.getLogger().addHandler(handler)
    ours.setLevel(logging.INFO if verbose else logging.WARNING)
    miners.setLevel(logging.INFO if verbose else logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        ours.setLevel(saved[0])
        miners.setLevel(saved[1])


def _code(code: str) -> ErrorCode:
    try:
        return ErrorCode.from_code(code)
    except KeyError:
        return ErrorCode.UNAVAILABLE


def demo(
    treasury: str = typer.Option("treasury", "--treasury", envvar="HIVELEDGER_TREASURY",
                                 help="Keystore wallet that funds everyone."),
    miners: int = typer.Option(12, "--miners", min=2, max=100),
    validators: int = typer.Option(5, "--validators", min=3, max=20,
                                   help="Including one colluding pair."),
    tasks: int = typer.Option(4, "--tasks", min=1, max=20),
    deadline_s: float = typer.Option(20.0, "--deadline-s", min=3.0,
                                     help="Seconds from publishing to each task's deadline."),
    window_s: float = typer.Option(10.0, "--window-s", min=1.0,
                                   help="Validation window after the deadline, seconds."),
    seed: int = typer.Option(None, "--seed", help="Same seed, same keys, tasks and votes."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what everyone does."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:  # fmt: skip
    """Drive a small market (publishers, auto-miners, validators, one colluding pair and a
    fraud report) against a running node, wait for the sequencer to settle every task,
    and summarise what the projections now hold."""
    from gateways.demo import DemoConfig, run_demo  # aiohttp and the SDK only when used
    from gateways.demo.render import render
    from gateways.sdk.errors import AIError

    with errors_reported():
        keypair = Keystore(home()).load(treasury, password())
    config = DemoConfig(
        node=node_url, miners=miners, validators=validators, tasks=tasks,
        deadline_s=deadline_s, window_s=window_s,
        seed=secrets.randbelow(1_000_000) if seed is None else seed,
    )  # fmt: skip
    with errors_reported(), demo_logging(verbose, err_console):
        try:
            with RichReporter(err_console) as reporter:
                summary = asyncio.run(run_demo(config, keypair, reporter))
        except AIError as error:
            fail(_code(error.code), error.message or str(error))
        except LedgerError:
            raise
    emit(summary, as_json, lambda s: render(s, console))
    if not summary["all_final"] or not summary["conservation"]["holds"]:
        raise typer.Exit(EXIT_REFUSED)
