"""The hiveledger command: noun-verb, --json on every read, flags that fall back to env vars."""

from __future__ import annotations

import typer

from gateways.cli import (
    audit_cmd,
    bench_cmd,
    demo_cmd,
    ledger_cmds,
    market_cmds,
    node_cmd,
    wallet_cmds,
)

app = typer.Typer(
    name="hiveledger",
    help="An event-sourced ledger for an AI-task network, on NATS JetStream and DuckDB.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(wallet_cmds.app, name="wallet")
app.add_typer(market_cmds.task_app, name="task")
app.add_typer(market_cmds.miner_app, name="miner")
app.add_typer(market_cmds.validator_app, name="validator")
app.add_typer(market_cmds.fraud_app, name="fraud")
app.command("node")(node_cmd.node)
app.command("balance")(ledger_cmds.balance)
app.command("transfer")(ledger_cmds.transfer)
app.command("mint")(ledger_cmds.mint)
app.command("tx")(ledger_cmds.tx)
app.command("sql")(ledger_cmds.sql)
app.command("bench")(bench_cmd.bench)
app.command("audit")(audit_cmd.audit)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
