"""hiveledger node: nats-server (embedded unless --nats), sequencer, projector, HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import typer
from rich.logging import RichHandler

from gateways.cli.common import home


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise typer.BadParameter(f"{text!r} is not HOST:PORT")
    return host, int(port)


def node(
    dev: bool = typer.Option(False, "--dev", help="A development chain; genesis funds 'treasury'."),
    data: Path = typer.Option(None, "--data", envvar="HIVELEDGER_DATA", help="Data directory."),
    http: str = typer.Option("127.0.0.1:8545", "--http", envvar="HIVELEDGER_HTTP"),
    nats_url: str = typer.Option(
        None,
        "--nats",
        envvar="HIVELEDGER_NATS_URL",
        help="Use this nats-server or cluster instead of starting one.",
    ),
    genesis: Path = typer.Option(None, "--genesis", help="Genesis file for a non-dev chain."),
    log_level: str = typer.Option("INFO", "--log-level", envvar="HIVELEDGER_LOG_LEVEL"),
) -> None:
    """Run a node until Ctrl-C."""
    from gateways.bootstrap import Node, NodeSettings  # heavy imports only for this command

    logging.basicConfig(
        level=log_level.upper(),
        format="%(name)s: %(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(show_path=False, rich_tracebacks=True)],
    )
    host, port = _host_port(http)
    settings = NodeSettings(
        data_dir=data or home() / "data",
        nats_url=nats_url,
        http_host=host,
        http_port=port,
        dev=dev,
        genesis_path=genesis,
        keystore_home=home(),
        keystore_password=os.environ.get("HIVELEDGER_PASSWORD", ""),
    )
    asyncio.run(_serve(Node(settings)))


async def _serve(node: object) -> None:
    from gateways.bootstrap import Node
    from streams.gc_tuning import settle_gc

    assert isinstance(node, Node)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await node.start()
    settle_gc("node")  # this process's own main: tests that start a Node keep their GC
    logging.getLogger("hiveledger").info(
        "ready: %s (openapi at %s/openapi.json); Ctrl-C stops", node.http_url, node.http_url
    )
    try:
        await stop.wait()
    finally:
        await node.stop()
