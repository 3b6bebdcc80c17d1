"""balance, transfer, mint, tx, sql: the ledger through a node's HTTP API."""

from __future__ import annotations

from typing import Any

import typer

from domain.money import format_units, parse_tokens
from gateways.cli.common import (
    EXIT_REFUSED,
    JsonOption,
    NodeOption,
    console,
    emit,
    errors_reported,
    home,
    node,
    password,
    table,
)
from gateways.sdk import transactions
from streams import wire
from streams.address import is_address
from streams.keystore import Keystore


def resolve_address(name_or_address: str) -> str:
    """An address as given, or the address of a wallet of that name in the keystore."""
    if name_or_address.startswith("hive1") or is_address(name_or_address):
        return name_or_address
    return str(Keystore(home()).address_of(name_or_address))


def balance(
    who: str = typer.Argument(..., help="An address, or a wallet name from the keystore."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Show an address's balance and nonce."""
    with errors_reported():
        wallet = node(node_url).wallet(resolve_address(who))
    wallet["balance_tokens"] = format_units(wallet["balance"])
    emit(
        wallet,
        as_json,
        lambda w: console.print(
            f"{w['address']}  {w['balance_tokens']} tokens ({w['balance']} units), "
            f"nonce {w['nonce']}",
            highlight=False,
        ),
    )


def _report(result: dict[str, Any], as_json: bool) -> None:
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"{r['txid']}  "
            + (
                r["status"]
                if r["status"] != "rejected"
                else f"rejected: {r.get('code')}: {r.get('reason')}"
            ),
            highlight=False,
            markup=False,
        ),
    )
    if result.get("status") == "rejected":
        raise typer.Exit(EXIT_REFUSED)


def _sign_and_send(
    node_url: str, signer: str, kind: type[wire.Body], wait: bool, **fields: Any
) -> dict[str, Any]:
    """Sign ``kind`` with the keystore wallet ``signer`` at its next nonce; submit it."""
    keypair = Keystore(home()).load(signer, password())
    client = node(node_url)
    chain_id = client.chain()["chain_id"]
    nonce = client.wallet(keypair.address)["next_nonce"]
    _, envelope = transactions.sign(keypair, kind, chain_id=chain_id, nonce=nonce, **fields)
    return client.submit(envelope, wait=wait)


def transfer(
    sender: str = typer.Option(..., "--from", help="Wallet name in the keystore."),
    to: str = typer.Option(..., "--to", help="Recipient address or wallet name."),
    amount: str = typer.Option(..., "--amount", help="Tokens, up to 9 decimals (e.g. 12.5)."),
    memo: str = typer.Option("", "--memo"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the outcome."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Sign a transfer locally, submit it, and print its id and outcome."""
    with errors_reported():
        fields = {"amount": parse_tokens(amount), "to": resolve_address(to), "memo": memo}
        result = _sign_and_send(node_url, sender, wire.Transfer, wait, **fields)
    _report(result, as_json)


def mint(
    to: str = typer.Option(..., "--to", help="Recipient address or wallet name."),
    amount: str = typer.Option(..., "--amount", help="Tokens, up to 9 decimals."),
    signer: str = typer.Option("treasury", "--from", help="The treasury's wallet name."),
    memo: str = typer.Option("", "--memo"),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Mint new tokens (treasury only)."""
    with errors_reported():
        fields = {"amount": parse_tokens(amount), "to": resolve_address(to), "memo": memo}
        result = _sign_and_send(node_url, signer, wire.Mint, True, **fields)
    _report(result, as_json)


def tx(
    txid: str = typer.Argument(..., help="Transaction id (64 hex digits)."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Show what became of a transaction."""
    with errors_reported():
        record = node(node_url).transaction(txid)
    emit(
        record,
        as_json,
        lambda r: table(
            [r], ["txid", "status", "kind", "signer", "nonce", "code", "reason", "seq"]
        ),
    )


def sql(
    query: str = typer.Argument(..., help="One read-only SELECT over the projections."),
    node_url: str = NodeOption,
    as_json: bool = JsonOption,
) -> None:
    """Run read-only SQL against the node's DuckDB projections."""
    with errors_reported():
        result = node(node_url).sql(query)

    def render(r: dict[str, Any]) -> None:
        rows = [dict(zip(r["columns"], row, strict=True)) for row in r["rows"]]
        table(rows, r["columns"])
        if r.get("truncated"):
            console.print(f"[yellow]truncated to {len(rows)} rows[/yellow]")

    emit(result, as_json, render)
