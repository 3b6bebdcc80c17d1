"""The hiveledger CLI against a real node: embedded nats-server, sequencer, DuckDB, HTTP.

Each command runs through typer's CliRunner in a worker thread (the CLI is synchronous
and calls the node over HTTP) while the node's event loop keeps running. Every refusal
is checked for its stable code, a clear one-line message, a non-zero exit, no traceback,
and for changing nothing: no keystore file, no INTAKE message, no LEDGER event.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from mnemonic import Mnemonic
from typer.testing import CliRunner, Result

from gateways.bootstrap import Node
from gateways.cli.main import app
from streams.keys import Keypair, check_mnemonic
from streams.keystore import Keystore
from tests.node_harness import counts, module_node

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNIT = 10**9
TXID_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")


@dataclass
class Cli:
    """Runs `hiveledger ...` as a user would, with the environment pointing at one node."""

    node: Node
    home: Path
    runner: CliRunner

    @property
    def env(self) -> dict[str, str]:
        return {
            "HIVELEDGER_HOME": str(self.home),
            "HIVELEDGER_NODE": self.node.http_url,
            "HIVELEDGER_PASSWORD": "",
        }

    async def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        def invoke() -> Result:
            return self.runner.invoke(app, list(args), input=input, env={**self.env, **env})

        result = await asyncio.to_thread(invoke)
        assert "Traceback" not in result.output + result.stderr
        # Only a clean exit (SystemExit from typer.Exit) is allowed, never an exception.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{args}: {result.exception!r}\n{result.stderr}"
        )
        return result

    def keystore_files(self) -> list[str]:
        directory = self.home / "keystore"
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


node = module_node("cli-node")


@pytest.fixture(scope="module")
def cli(node: Node) -> Cli:
    assert node.settings.keystore_home is not None
    return Cli(node, node.settings.keystore_home, CliRunner())


def assert_refused(result: Result, code: str, *words: str) -> str:
    """A non-zero exit, and one line on stderr: 'error: <code>: <message>'. Returns it."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"one line of error, not {lines}"
    prefix = f"error: {code}: "
    assert lines[0].startswith(prefix), lines[0]
    message = lines[0][len(prefix) :]
    assert message.strip(), "the message says why"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert result.stdout == "", "nothing on stdout when refused"
    return message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broken_checksum(words: str) -> str:
    """The same words but the last, replaced so that the BIP39 checksum fails."""
    bip39 = Mnemonic("english")
    head = words.split()[:-1]
    for candidate in bip39.wordlist:
        attempt = " ".join([*head, candidate])
        if not bip39.check(attempt):
            return attempt
    raise AssertionError("unreachable: most last words break the checksum")


# -- wallets -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewWallet:
    name: str
    address: str
    words: str
    result: Result


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def alice(cli: Cli) -> NewWallet:
    """`wallet new --name alice`, as printed for a human."""
    result = await cli("wallet", "new", "--name", "alice")
    assert result.exit_code == 0, result.stderr
    address = re.search(r"^address\s+(hive1\S+)$", result.stdout, re.M)
    words = re.search(r"^mnemonic\s+(.+)$", result.stdout, re.M)
    assert address and words, result.stdout
    return NewWallet("alice", address.group(1), words.group(1).strip(), result)


async def test_wallet_new_prints_an_address_and_24_words(cli: Cli, alice: NewWallet) -> None:
    assert len(alice.words.split()) == 24
    assert check_mnemonic(alice.words) == alice.words
    assert Keypair.from_mnemonic(alice.words).address == alice.address
    assert "only this once" in alice.result.stdout
    stored = Keystore(cli.home)
    assert stored.address_of("alice") == alice.address
    assert stored.load("alice", "").address == alice.address
    assert (cli.home / "keystore" / "alice.json").stat().st_mode & 0o777 == 0o600
    assert alice.words not in (cli.home / "keystore" / "alice.json").read_text()


async def test_wallet_new_json_has_the_address_and_the_words(cli: Cli) -> None:
    result = await cli("wallet", "new", "--name", "bob", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "bob" and len(data["mnemonic"].split()) == 24
    assert Keypair.from_mnemonic(data["mnemonic"]).address == data["address"]
    assert Keystore(cli.home).address_of("bob") == data["address"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def alice2(cli: Cli, alice: NewWallet) -> Result:
    """`wallet import --name alice2` with alice's 24 words on stdin."""
    return await cli("wallet", "import", "--name", "alice2", input=alice.words + "\n")


async def test_wallet_import_restores_the_same_address(
    cli: Cli, alice: NewWallet, alice2: Result
) -> None:
    assert alice2.exit_code == 0, alice2.stderr
    assert alice2.stdout.split() == ["wallet", "alice2", "address", alice.address]
    assert Keystore(cli.home).load("alice2", "").address == alice.address
    # Typed sloppily (capitals, extra spaces) it is still the same wallet.
    sloppy = "  " + "   ".join(alice.words.upper().split()) + "  \n"
    result = await cli("wallet", "import", "--name", "alice3", "--json", input=sloppy)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "alice3", "address": alice.address}


@pytest.mark.parametrize(
    ("case", "hint"),
    [
        ("bad checksum", "checksum"),
        ("unknown word", "not in the BIP39 English word list"),
        ("misspelt word", "did you mean"),
        ("23 words", "not 23"),
        ("nothing", "not 0"),
    ],
)
async def test_wallet_import_refuses_a_bad_mnemonic_and_writes_nothing(
    cli: Cli, alice: NewWallet, case: str, hint: str
) -> None:
    words = alice.words.split()
    mnemonic = {
        "bad checksum": broken_checksum(alice.words),
        "unknown word": " ".join([*words[:5], "hiveledger", *words[6:]]),
        "misspelt word": " ".join([*words[:-1], words[-1][:-1] + "q"]),
        "23 words": " ".join(words[:-1]),
        "nothing": "",
    }[case]
    before = cli.keystore_files()
    result = await cli("wallet", "import", "--name", "mallory", input=mnemonic + "\n")
    assert_refused(result, "mnemonic_invalid", hint)
    assert cli.keystore_files() == before, "no keystore file (not even a temporary one)"


async def test_a_taken_wallet_name_is_refused_and_the_wallet_kept(
    cli: Cli, alice: NewWallet
) -> None:
    path = cli.home / "keystore" / "alice.json"
    original = path.read_bytes()
    result = await cli("wallet", "new", "--name", "alice")
    assert_refused(result, "wallet_exists", "'alice'")
    other_words = Keypair.generate()[1]
    result = await cli("wallet", "import", "--name", "alice", input=other_words + "\n")
    assert_refused(result, "wallet_exists", "'alice'")
    assert path.read_bytes() == original, "the existing wallet is never overwritten"


async def test_wallet_list_and_show(cli: Cli, alice: NewWallet) -> None:
    result = await cli("wallet", "list", "--json")
    assert result.exit_code == 0, result.stderr
    listed = {row["name"]: row["address"] for row in json.loads(result.stdout)}
    treasury = Keystore(cli.home).address_of("treasury")
    assert listed["alice"] == alice.address and listed["treasury"] == treasury
    assert list(listed) == sorted(listed), "by name"
    table = await cli("wallet", "list")
    assert table.exit_code == 0 and "alice" in table.stdout and alice.address in table.stdout

    shown = await cli("wallet", "show", "alice")
    assert shown.exit_code == 0
    assert shown.stdout.split() == ["alice", alice.address]
    shown = await cli("wallet", "show", "alice", "--json")
    assert json.loads(shown.stdout) == {"name": "alice", "address": alice.address}
    assert_refused(await cli("wallet", "show", "nobody"), "wallet_not_found", "'nobody'")
    # A name that looks like rich markup is quoted as text, not rendered (nor a crash).
    assert_refused(await cli("wallet", "show", "[/bold]"), "bad_request", "'[/bold]'")


# -- the ledger ------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def funded(cli: Cli, alice: NewWallet) -> str:
    """`transfer --from treasury --to alice --amount 12.5`; returns its txid."""
    result = await cli("transfer", "--from", "treasury", "--to", "alice", "--amount", "12.5")
    assert result.exit_code == 0, result.stderr
    match = TXID_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(2) == "accepted"
    return match.group(1)


async def test_transfer_prints_its_txid_and_accepted(
    cli: Cli, alice: NewWallet, funded: str
) -> None:
    result = await cli("balance", "alice", "--json")
    assert result.exit_code == 0, result.stderr
    wallet = json.loads(result.stdout)
    assert wallet["address"] == alice.address
    assert (wallet["balance"], wallet["balance_tokens"]) == (12_500_000_000, "12.5")
    assert (wallet["nonce"], wallet["next_nonce"]) == (0, 1)
    by_address = await cli("balance", alice.address, "--json")
    assert json.loads(by_address.stdout)["balance"] == 12_500_000_000
    human = await cli("balance", "alice")
    assert "12.5 tokens (12500000000 units)" in human.stdout


async def test_tx_shows_what_became_of_a_transfer(cli: Cli, alice: NewWallet, funded: str) -> None:
    result = await cli("tx", funded, "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["txid"], record["status"], record["kind"]) == (funded, "accepted", "transfer")
    assert record["body"]["amount"] == 12_500_000_000 and record["body"]["to"] == alice.address
    assert record["signer"] == Keystore(cli.home).address_of("treasury")
    table = await cli("tx", funded)
    assert table.exit_code == 0 and "accepted" in table.stdout
    assert_refused(await cli("tx", "0" * 64), "not_found")
    assert_refused(await cli("tx", "not-a-txid"), "bad_request")


@pytest.mark.parametrize(
    "amount",
    [
        "1e3",
        "-1",
        "0",
        "0.0",
        "0.0000000001",
        "1.2345678901",
        "12,5",
        "1.5.0",
        "+1",
        "0x10",
        "NaN",
        "inf",
        "",
        "9223372037",  # tokens: one token more than 2^63-1 units
        "99999999999999999999",
    ],
)
async def test_a_bad_amount_is_refused_before_anything_is_sent(
    cli: Cli, node: Node, funded: str, amount: str
) -> None:
    before = await counts(node)
    result = await cli("transfer", "--from", "treasury", "--to", "alice", "--amount", amount)
    assert_refused(result, "amount_invalid")
    assert await counts(node) == before, "no transaction reached INTAKE or LEDGER"


async def test_an_amount_at_the_9th_decimal_is_one_unit(
    cli: Cli, node: Node, alice: NewWallet, funded: str
) -> None:
    before = json.loads((await cli("balance", "alice", "--json")).stdout)["balance"]
    result = await cli("transfer", "--from", "treasury", "--to", "alice", "--amount", "0.000000001")
    assert result.exit_code == 0 and result.stdout.strip().endswith("  accepted"), result.output
    after = json.loads((await cli("balance", "alice", "--json")).stdout)["balance"]
    assert after == before + 1


async def test_transfer_beyond_the_balance_is_rejected_and_moves_nothing(
    cli: Cli, node: Node, alice: NewWallet, funded: str
) -> None:
    before = json.loads((await cli("balance", "alice", "--json")).stdout)
    result = await cli("transfer", "--from", "alice", "--to", "treasury", "--amount", "100")
    assert result.exit_code == 1, result.output
    match = TXID_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert match.group(2).startswith("rejected: insufficient_funds: ")
    after = json.loads((await cli("balance", "alice", "--json")).stdout)
    assert (after["balance"], after["nonce"]) == (before["balance"], before["nonce"])
    record = json.loads((await cli("tx", match.group(1), "--json")).stdout)
    assert (record["status"], record["code"]) == ("rejected", "insufficient_funds")
    # --json reports the same rejection, with the same exit code.
    result = await cli(
        "transfer", "--from", "alice", "--to", "treasury", "--amount", "100", "--json"
    )
    assert result.exit_code == 1
    outcome = json.loads(result.stdout)
    assert (outcome["status"], outcome["code"]) == ("rejected", "insufficient_funds")


async def test_an_imported_wallet_spends_what_the_original_received(
    cli: Cli, node: Node, alice: NewWallet, alice2: Result, funded: str
) -> None:
    dave = Keypair.generate()[0].address
    before = json.loads((await cli("balance", "alice", "--json")).stdout)
    result = await cli("transfer", "--from", "alice2", "--to", dave, "--amount", "2.5")
    assert result.exit_code == 0 and result.stdout.strip().endswith("  accepted"), result.output
    after = json.loads((await cli("balance", "alice", "--json")).stdout)
    assert after["balance"] == before["balance"] - 2_500_000_000
    assert after["nonce"] == before["nonce"] + 1
    received = json.loads((await cli("balance", dave, "--json")).stdout)
    assert (received["balance"], received["nonce"]) == (2_500_000_000, 0)


async def test_a_self_transfer_is_rejected(cli: Cli, funded: str) -> None:
    result = await cli("transfer", "--from", "treasury", "--to", "treasury", "--amount", "1")
    assert result.exit_code == 1
    assert "rejected: self_transfer: " in result.stdout


async def test_a_mistyped_recipient_is_refused_before_anything_is_sent(
    cli: Cli, node: Node, alice: NewWallet
) -> None:
    before = await counts(node)
    typo = alice.address[:-1] + ("q" if alice.address[-1] != "q" else "p")
    result = await cli("transfer", "--from", "treasury", "--to", typo, "--amount", "1")
    assert_refused(result, "address_invalid")
    result = await cli("transfer", "--from", "treasury", "--to", "nobody", "--amount", "1")
    assert_refused(result, "wallet_not_found", "'nobody'")
    assert await counts(node) == before


async def test_sql_returns_rows(cli: Cli, alice: NewWallet, funded: str) -> None:
    query = f"SELECT address, balance FROM wallets WHERE address = '{alice.address}'"
    balance = json.loads((await cli("balance", "alice", "--json")).stdout)["balance"]
    result = await cli("sql", query, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["columns"] == ["address", "balance"]
    assert data["rows"] == [[alice.address, balance]]
    assert data["truncated"] is False
    conserved = await cli(
        "sql", "SELECT (SELECT sum(balance) FROM wallets) = (SELECT supply FROM chain)", "--json"
    )
    assert json.loads(conserved.stdout)["rows"] == [[True]], "money is conserved"
    human = await cli("sql", query)
    # A table at 80 columns folds the 67-character address: look for its start.
    assert human.exit_code == 0 and "balance" in human.stdout
    assert alice.address[:40] in human.stdout and str(balance) in human.stdout


async def test_sql_prints_data_that_looks_like_markup_as_it_is(cli: Cli, funded: str) -> None:
    # Anyone can put "[/b]" in a memo; a table of memos must print it, not crash on it.
    memo = "[/b] [red]not red[/red]"
    result = await cli(
        "transfer", "--from", "treasury", "--to", "alice", "--amount", "1", "--memo", memo
    )
    assert result.exit_code == 0, result.output
    txid = result.stdout.split()[0]
    shown = await cli("sql", f"SELECT memo AS \"[/i]\" FROM transfers WHERE txid = '{txid}'")
    assert shown.exit_code == 0
    assert memo in shown.stdout and "[/i]" in shown.stdout


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM wallets",
        "DROP TABLE wallets",
        "UPDATE wallets SET balance = 0",
        "COPY wallets TO '/tmp/x.csv'",
    ],
)
async def test_sql_that_writes_is_refused(
    cli: Cli, node: Node, funded: str, statement: str
) -> None:
    before = await cli("sql", "SELECT count(*), sum(balance) FROM wallets", "--json")
    assert_refused(await cli("sql", statement), "sql_refused")
    after = await cli("sql", "SELECT count(*), sum(balance) FROM wallets", "--json")
    assert json.loads(after.stdout)["rows"] == json.loads(before.stdout)["rows"]


async def test_sql_error_is_reported(cli: Cli) -> None:
    assert_refused(await cli("sql", "SELEC 1"), "sql_error")


# -- the keystore password and an unreachable node -------------------------------------


async def test_a_wrong_keystore_password_is_refused_and_sends_nothing(
    cli: Cli, node: Node, funded: str
) -> None:
    before = await counts(node)
    result = await cli(
        "transfer",
        "--from",
        "treasury",
        "--to",
        "alice",
        "--amount",
        "1",
        HIVELEDGER_PASSWORD="wrong",
    )
    assert_refused(result, "keystore_password", "'treasury'")
    assert await counts(node) == before


async def test_a_new_wallet_keeps_the_password_it_was_given(cli: Cli, funded: str) -> None:
    result = await cli("wallet", "new", "--name", "carol", HIVELEDGER_PASSWORD="s3cret")
    assert result.exit_code == 0, result.stderr
    assert Keystore(cli.home).load("carol", "s3cret")
    result = await cli("transfer", "--from", "carol", "--to", "alice", "--amount", "1")
    assert_refused(result, "keystore_password")


def unreachable_urls(node: Node) -> dict[str, str]:
    return {
        "closed port": f"http://127.0.0.1:{closed_port()}",
        "the NATS port, not HTTP": node.nats_url.replace("nats://", "http://"),
        "no scheme": "127.0.0.1:1",
        "not a URL": "not a url",
    }


@pytest.mark.parametrize(
    "command",
    [
        ("balance", "alice"),
        ("tx", "0" * 64),
        ("sql", "SELECT 1"),
        ("transfer", "--from", "treasury", "--to", "alice", "--amount", "1"),
    ],
    ids=lambda c: c[0],
)
async def test_an_unreachable_node_is_unavailable_never_a_traceback(
    cli: Cli, node: Node, alice: NewWallet, command: tuple[str, ...]
) -> None:
    before = await counts(node)
    for what, url in unreachable_urls(node).items():
        result = await cli(*command, HIVELEDGER_NODE=url)
        message = assert_refused(result, "unavailable")
        assert url in message, (what, message)
    assert await counts(node) == before


async def test_node_flag_overrides_the_environment(cli: Cli, node: Node, funded: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = await cli("balance", "alice", "--json", "--node", node.http_url, HIVELEDGER_NODE=url)
    assert result.exit_code == 0 and json.loads(result.stdout)["balance"] > 0
