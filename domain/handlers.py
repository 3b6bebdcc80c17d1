"""The ledger's rules: one handler per command kind.

Each handler first runs every guard that can refuse (raising LedgerError with a stable
code) and only then triggers events, so a refused command changes nothing. After the
events, the money moved is checked against the money created: conservation is asserted
for every transaction, not only in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.book import Book
from domain.chain import Chain
from domain.commands import Mint, Transfer, TxContext
from domain.errors import ErrorCode, LedgerError
from domain.money import check_amount
from domain.wallet import Wallet, check_next_nonce

GENESIS_SOURCE = "genesis"


def check_not_expired(ctx: TxContext) -> None:
    if ctx.expires_at is not None and ctx.expires_at < ctx.sequenced_at:
        raise LedgerError(
            ErrorCode.EXPIRED,
            f"expired at {ctx.expires_at} ms, sequenced at {ctx.sequenced_at} ms",
        )


def _nonce_of(wallet: Wallet | None) -> int:
    return wallet.nonce if wallet is not None else 0


def _balance_of(wallet: Wallet | None) -> int:
    return wallet.balance if wallet is not None else 0


def transfer(cmd: Transfer, book: Book) -> None:
    ctx, to, amount = cmd.ctx, cmd.to, cmd.amount
    check_amount(amount)
    check_not_expired(ctx)
    if to == ctx.signer:
        raise LedgerError(ErrorCode.SELF_TRANSFER, "sender and recipient are the same address")
    sender = book.wallet(ctx.signer)
    check_next_nonce(_nonce_of(sender), ctx.nonce)
    if sender is None:
        raise LedgerError(ErrorCode.INSUFFICIENT_FUNDS, f"{ctx.signer} has no balance")
    sender.check_can_pay(amount)
    recipient = book.wallet(to)
    if recipient is not None:
        recipient.check_can_receive(amount)
    before = sender.balance + _balance_of(recipient)  # two wallets: not a self-transfer
    # Every guard has passed: from here on, only events.
    sender.send(tx=ctx.txid, to=to, amount=amount, nonce=ctx.nonce)
    book.touch(sender)
    recipient = book.open_wallet(to)
    recipient.receive(tx=ctx.txid, source=ctx.signer, amount=amount)
    assert sender.balance + recipient.balance == before, "a transfer must conserve money"


def mint(cmd: Mint, book: Book) -> None:
    ctx = cmd.ctx
    chain = book.chain
    check_amount(cmd.amount)
    check_not_expired(ctx)
    chain.check_minter(ctx.signer)
    treasury = book.wallet(ctx.signer)
    check_next_nonce(_nonce_of(treasury), ctx.nonce)
    chain.check_can_mint(cmd.amount)
    recipient = book.wallet(cmd.to)
    if recipient is not None:
        recipient.check_can_receive(cmd.amount)
    supply_before, held_before = chain.supply, _balance_of(recipient)
    book.open_wallet(ctx.signer).use_nonce(tx=ctx.txid, nonce=ctx.nonce)
    chain.mint(tx=ctx.txid, to=cmd.to, amount=cmd.amount)
    book.touch(chain)
    recipient = book.open_wallet(cmd.to)
    recipient.receive(tx=ctx.txid, source=ctx.signer, amount=cmd.amount)
    minted = chain.supply - supply_before
    assert minted == cmd.amount and recipient.balance - held_before == minted


HANDLERS: dict[type[Any], Callable[[Any, Book], None]] = {
    Transfer: transfer,
    Mint: mint,
}


def create_chain(
    chain_id: str,
    treasury: str,
    allocations: dict[str, int],
    load_wallet: Callable[[str], Wallet | None],
) -> Book:
    """Genesis: the chain and the funded wallets, in one book to be saved atomically."""
    for amount in allocations.values():
        check_amount(amount)
    chain = Chain(chain_id=chain_id, treasury=treasury, allocations=dict(allocations))
    book = Book(chain, load_wallet)
    book.touch(chain)
    for address, amount in sorted(allocations.items()):
        book.open_wallet(address).receive(tx=GENESIS_SOURCE, source=GENESIS_SOURCE, amount=amount)
    assert sum(w.balance for w in book.wallets()) == chain.supply
    return book
