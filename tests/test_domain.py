"""Domain rules, on the eventsourcing library's in-memory (POPO) persistence."""

from __future__ import annotations

import pytest
from eventsourcing.application import Application

from domain.book import Book
from domain.chain import Chain
from domain.commands import Mint, Transfer, TxContext
from domain.dispatch import execute
from domain.errors import ErrorCode, LedgerError
from domain.handlers import create_chain
from domain.money import MAX_AMOUNT, UNIT, format_units, parse_tokens
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from domain.wallet import Wallet

TREASURY, ALICE, BOB = "hive1treasury", "hive1alice", "hive1bob"


def ctx(signer: str, nonce: int, txid: str = "t", at: int = 1000, expires: int | None = None):
    return TxContext(txid=txid, signer=signer, nonce=nonce, sequenced_at=at, expires_at=expires)


@pytest.fixture
def book() -> Book:
    genesis = create_chain("dev", TREASURY, {TREASURY: 1000 * UNIT}, lambda a: None)
    wallets = {w.address: w for w in genesis.wallets()}
    return Book(genesis.chain, wallets.get)


def refused(code: ErrorCode, command, book: Book) -> None:
    for address in (TREASURY, ALICE, BOB):
        book.wallet(address)
    before = {w.address: (w.balance, w.nonce, w.version) for w in book.wallets()}
    with pytest.raises(LedgerError) as info:
        execute(command, book)
    assert info.value.error_code is code
    after = {w.address: (w.balance, w.nonce, w.version) for w in book.wallets()}
    assert after == before, "a refused command must change nothing"


def test_transfer_moves_money_and_bumps_nonce(book: Book) -> None:
    execute(Transfer(ctx(TREASURY, 1), to=ALICE, amount=5 * UNIT), book)
    assert book.wallet(TREASURY).balance == 995 * UNIT
    assert book.wallet(ALICE).balance == 5 * UNIT
    assert book.wallet(TREASURY).nonce == 1
    assert set(book.changed) == {f"wallet.{TREASURY}", f"wallet.{ALICE}"}


def test_refusals_have_their_codes_and_change_nothing(book: Book) -> None:
    refused(ErrorCode.NONCE_GAP, Transfer(ctx(TREASURY, 2), to=ALICE, amount=1), book)
    refused(ErrorCode.NONCE_STALE, Transfer(ctx(TREASURY, 0), to=ALICE, amount=1), book)
    refused(ErrorCode.AMOUNT_INVALID, Transfer(ctx(TREASURY, 1), to=ALICE, amount=0), book)
    refused(ErrorCode.AMOUNT_INVALID, Transfer(ctx(TREASURY, 1), to=ALICE, amount=-1), book)
    refused(ErrorCode.AMOUNT_INVALID, Transfer(ctx(TREASURY, 1), to=ALICE, amount=2**63), book)
    refused(ErrorCode.SELF_TRANSFER, Transfer(ctx(TREASURY, 1), to=TREASURY, amount=1), book)
    refused(ErrorCode.INSUFFICIENT_FUNDS, Transfer(ctx(ALICE, 1), to=BOB, amount=1), book)
    refused(
        ErrorCode.INSUFFICIENT_FUNDS, Transfer(ctx(TREASURY, 1), to=BOB, amount=1001 * UNIT), book
    )
    refused(
        ErrorCode.EXPIRED, Transfer(ctx(TREASURY, 1, at=2000, expires=1999), to=BOB, amount=1), book
    )
    refused(ErrorCode.NOT_TREASURY, Mint(ctx(ALICE, 1), to=ALICE, amount=1), book)
    refused(ErrorCode.SUPPLY_OVERFLOW, Mint(ctx(TREASURY, 1), to=ALICE, amount=MAX_AMOUNT), book)
    assert book.wallet(ALICE) is None and book.wallet(BOB) is None
    assert not book.changed


def test_mint_grows_supply_and_balance(book: Book) -> None:
    execute(Mint(ctx(TREASURY, 1), to=ALICE, amount=7), book)
    assert book.chain.supply == 1000 * UNIT + 7
    assert book.wallet(ALICE).balance == 7
    assert book.wallet(TREASURY).nonce == 1


def test_a_wallet_opens_the_same_way_by_call_or_by_open() -> None:
    by_call, by_open = Wallet(address=ALICE), Wallet.open(ALICE)
    [called], [opened] = by_call.collect_events(), by_open.collect_events()
    assert type(called) is type(opened) is Wallet.Opened
    assert {**vars(called), "timestamp": None} == {**vars(opened), "timestamp": None}
    assert (by_open.id, by_open.address, by_open.balance, by_open.nonce) == (
        f"wallet.{ALICE}", ALICE, 0, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "outcome", [{"status": ACCEPTED}, {"status": REJECTED, "code": "c", "reason": "r"}]
)
def test_a_record_made_by_decided_is_the_record_the_constructor_makes(outcome: dict) -> None:  # type: ignore[type-arg]
    fields = {"txid": "ab", "kind": "transfer", "signer": "s", "nonce": 1, "envelope": "e",
              "intake_seq": 3, "sequenced_at": 5, **outcome}  # fmt: skip
    by_call, by_decided = TxRecord(**fields), TxRecord.decided(**fields)
    [called], [decided] = by_call.collect_events(), by_decided.collect_events()
    assert type(called) is type(decided) is TxRecord.Decided
    assert {**vars(called), "timestamp": None} == {**vars(decided), "timestamp": None}
    assert {**vars(by_call)} | {"_created_on": None, "_modified_on": None} == {
        **vars(by_decided)
    } | {"_created_on": None, "_modified_on": None}
    with pytest.raises(AssertionError):  # the constructor's guards run either way
        TxRecord.decided(**{**fields, "status": ACCEPTED, "code": "c"})


def test_a_decided_record_comes_back_the_same_from_its_stored_event() -> None:
    app = Application[str]()
    record = TxRecord.decided(
        txid="cd", status=REJECTED, kind="transfer", signer="s", nonce=2, envelope="e",
        intake_seq=4, sequenced_at=6, code="nonce_gap", reason="r",
    )  # fmt: skip
    app.save(record)
    loaded = app.repository.get("tx.cd")
    assert type(loaded) is TxRecord and vars(loaded) == vars(record)
    assert (loaded.version, loaded.created_on) == (1, record.created_on)


class AuditedRecord(TxRecord):
    """A subclass: its records are made (and replayed) the library's own way."""


def test_a_subclass_record_is_made_and_reloaded_as_the_subclass() -> None:
    app = Application[str]()
    record = AuditedRecord.decided(
        txid="ef", status=ACCEPTED, kind="transfer", signer="s", nonce=1, envelope="e",
        intake_seq=1, sequenced_at=1,
    )  # fmt: skip
    assert type(record) is AuditedRecord
    app.save(record)
    loaded = app.repository.get("tx.ef")
    assert type(loaded) is AuditedRecord and vars(loaded) == vars(record)


def test_transaction_record_is_decided_once() -> None:
    rec = TxRecord(
        txid="ab",
        status=REJECTED,
        kind="transfer",
        signer="s",
        nonce=1,
        envelope="",
        intake_seq=3,
        sequenced_at=5,
        code="nonce_gap",
        reason="r",
    )
    assert (rec.id, rec.version, rec.code) == ("tx.ab", 1, "nonce_gap")
    with pytest.raises(AssertionError):
        TxRecord(
            txid="x",
            status=ACCEPTED,
            kind="t",
            signer="s",
            nonce=1,
            envelope="",
            intake_seq=1,
            sequenced_at=1,
            code="oops",
        )


def test_aggregates_rebuild_from_their_events_with_popo() -> None:
    app: Application[str] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    genesis = create_chain("dev", TREASURY, {TREASURY: 10}, lambda a: None)
    app.save(*genesis.changed.values())
    wallets = {w.address: w for w in genesis.wallets()}
    book = Book(genesis.chain, lambda a: wallets.get(a))
    execute(Transfer(ctx(TREASURY, 1, "t1"), to=ALICE, amount=4), book)
    app.save(*book.changed.values())
    treasury = app.repository.get(Wallet.create_id(TREASURY))
    alice = app.repository.get(Wallet.create_id(ALICE))
    chain = app.repository.get(Chain.create_id("dev"))
    assert (treasury.balance, treasury.nonce, alice.balance, chain.supply) == (6, 1, 4, 10)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("12.5", 12_500_000_000),
        ("0.000000001", 1),
        ("1", UNIT),
        ("9223372036.854775807", MAX_AMOUNT),
    ],
)
def test_parse_tokens(text: str, units: int) -> None:
    assert parse_tokens(text) == units
    assert parse_tokens(format_units(units)) == units


@pytest.mark.parametrize("text", ["", "-1", "1e3", "0.0000000001", "0", "1.", "abc", "9223372037"])
def test_parse_tokens_refuses(text: str) -> None:
    with pytest.raises(LedgerError) as info:
        parse_tokens(text)
    assert info.value.error_code is ErrorCode.AMOUNT_INVALID
