"""hiveledger wallet new|import|show|list: keys live in the local, encrypted keystore."""

from __future__ import annotations

import sys

import typer

from gateways.cli.common import JsonOption, console, emit, errors_reported, home, password, table
from streams.keys import Keypair, check_mnemonic
from streams.keystore import Keystore

app = typer.Typer(help="Create, import and list local wallets (keys never leave this machine).")


@app.command("new")
def new(
    name: str = typer.Option(..., "--name", help="A name for the wallet."),
    as_json: bool = JsonOption,
) -> None:
    """Create a wallet: prints its address and its 24-word mnemonic, once."""
    with errors_reported():
        store = Keystore(home())
        keypair, words = Keypair.generate()
        store.create(name, words, password(confirm=True))
    data = {"name": name, "address": keypair.address, "mnemonic": words}
    emit(
        data,
        as_json,
        lambda d: console.print(
            f"wallet [bold]{name}[/bold]\naddress  {d['address']}\nmnemonic {d['mnemonic']}\n"
            "[yellow]Write the mnemonic down now: it is shown only this once.[/yellow]",
            highlight=False,
        ),
    )


@app.command("import")
def import_(
    name: str = typer.Option(..., "--name", help="A name for the wallet."),
    as_json: bool = JsonOption,
) -> None:
    """Restore a wallet from a mnemonic read from standard input."""
    with errors_reported():
        words = check_mnemonic(sys.stdin.readline())
        keypair = Keypair.from_mnemonic(words)
        Keystore(home()).create(name, words, password(confirm=sys.stdin.isatty()))
    emit(
        {"name": name, "address": keypair.address},
        as_json,
        lambda d: console.print(
            f"wallet [bold]{name}[/bold]\naddress  {d['address']}", highlight=False
        ),
    )


@app.command("show")
def show(name: str = typer.Argument(..., help="Wallet name."), as_json: bool = JsonOption) -> None:
    """Show a wallet's address (no password needed)."""
    with errors_reported():
        address = Keystore(home()).address_of(name)
    emit(
        {"name": name, "address": address},
        as_json,
        lambda d: console.print(f"{d['name']}  {d['address']}", highlight=False),
    )


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the wallets in the keystore."""
    with errors_reported():
        rows = [{"name": n, "address": a} for n, a in Keystore(home()).list()]
    emit(rows, as_json, lambda r: table(r, ["name", "address"]))
