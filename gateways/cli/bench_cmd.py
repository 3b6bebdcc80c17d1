"""hiveledger bench: measure the real path against raw JetStream and eventsourcing+SQLite."""

from __future__ import annotations

import typer

from gateways.cli.common import JsonOption, emit, table


def bench(
    n: int = typer.Option(100_000, "-n", "--transactions", help="Signed transfers to submit."),
    wallets: int = typer.Option(1_000, "--wallets", help="Wallets they move money among."),
    baseline_n: int = typer.Option(
        0,
        "--baseline-n",
        help="Transfers for the eventsourcing+SQLite baseline (0: all): the first half of "
        "them, run once before the node and once after.",
    ),
    intake: str = typer.Option(
        "bulk",
        "--intake",
        help="How the client publishes to INTAKE: 'bulk' (atomic batches, one disk sync "
        "each) or 'single' (one publish_async per envelope, with Nats-Msg-Id).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Submit N signed transfers through a fresh node and report rates side by side."""
    from gateways.bench.run import run_bench

    if not 2 <= wallets <= n:
        raise typer.BadParameter("need 2 <= --wallets <= -n")
    if intake not in ("bulk", "single"):
        raise typer.BadParameter("--intake is 'bulk' or 'single'")
    report = run_bench(n, wallets, baseline_n or None, quiet=as_json, intake=intake)
    emit(
        report,
        as_json,
        lambda r: table(
            [{"figure": k, "value": v} for k, v in r.items()],
            ["figure", "value"],
            "hiveledger bench",
        ),
    )
