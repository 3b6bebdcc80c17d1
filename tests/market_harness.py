"""An in-memory ledger for domain tests of the marketplace: aggregates in a dict."""

from __future__ import annotations

import hashlib
from typing import Any

from domain.book import Book
from domain.commands import Transfer, TxContext
from domain.dispatch import execute, run_clock
from domain.errors import LedgerError
from domain.handlers import create_chain
from domain.market import Market
from domain.market_commands import (
    CastVote,
    JoinTask,
    PublishTask,
    RegisterMiner,
    RegisterValidator,
    SubmitSolution,
)
from domain.wallet import Wallet

TREASURY = "hive1treasury"
HOUR = 3_600_000


class MemoryLedger:
    def __init__(self, supply: int = 10**15) -> None:
        genesis = create_chain("m", TREASURY, {TREASURY: supply}, lambda a: None)
        self.chain = genesis.chain
        self.market = Market(chain_id="m")
        self.store: dict[str, Any] = {a.id: a for a in genesis.changed.values()}
        self.store[self.market.id] = self.market
        self.nonces: dict[str, int] = {}
        self.now = 1_000_000
        self.count = 0

    def book(self) -> Book:
        return Book(
            self.chain, lambda a: self.store.get(Wallet.create_id(a)), self.store.get, self.market
        )

    def _commit(self, book: Book) -> None:
        for aggregate in book.changed.values():
            aggregate.collect_events()
            self.store[aggregate.id] = aggregate

    def ctx(self, signer: str, nonce: int | None = None) -> TxContext:
        self.count += 1
        txid = hashlib.sha256(f"tx{self.count}".encode()).hexdigest()
        n = self.nonces.get(signer, 0) + 1 if nonce is None else nonce
        return TxContext(txid=txid, signer=signer, nonce=n, sequenced_at=self.now)

    def run(self, command: Any) -> str:
        """Execute; on success commit and return the txid. Refusals raise LedgerError."""
        book = self.book()
        try:
            execute(command, book)
        except LedgerError:
            assert not book.changed, "a refused command changed something"
            raise
        self._commit(book)
        self.nonces[command.ctx.signer] = command.ctx.nonce
        return command.ctx.txid

    def tick(self, now: int) -> list[str]:
        self.now = now
        book = self.book()
        moved = run_clock(book, now)
        self._commit(book)
        return moved

    # -- conveniences -------------------------------------------------------------
    def fund(self, address: str, amount: int) -> None:
        self.run(Transfer(self.ctx(TREASURY), to=address, amount=amount))

    def balance(self, address: str) -> int:
        wallet = self.store.get(Wallet.create_id(address))
        return wallet.balance if wallet else 0

    def get(self, aggregate_id: str) -> Any:
        return self.store[aggregate_id]

    def held(self) -> int:
        wallets = sum(a.balance for a in self.store.values() if isinstance(a, Wallet))
        return wallets + self.market.locked

    def publish(self, publisher: str, reward: int = 1_000, **kw: Any) -> str:
        fields: dict[str, Any] = dict(
            title="t", description="d", task_type="code_analysis", difficulty="beginner",
            reward=reward, stake_required=10, deadline=self.now + HOUR,
            validation_window=HOUR, verification_type="peer_review", quality_threshold=60,
            max_participants=5,
        )  # fmt: skip
        fields.update(kw)
        return self.run(PublishTask(self.ctx(publisher), **fields))

    def miner(self, address: str) -> None:
        self.run(RegisterMiner(self.ctx(address), miner_id=address))

    def join(self, address: str, task_id: str, stake: int = 10) -> str:
        return self.run(JoinTask(self.ctx(address), task_id=task_id, stake=stake))

    def submit(self, address: str, task_id: str, content: str = "answer") -> str:
        digest = hashlib.sha256(content.encode()).hexdigest()
        return self.run(
            SubmitSolution(self.ctx(address), task_id=task_id, content_hash=digest, content=content)
        )

    def validator(self, address: str, stake: int = 100) -> None:
        self.run(RegisterValidator(self.ctx(address), stake=stake))

    def vote(self, address: str, submission_id: str, score: int) -> str:
        return self.run(CastVote(self.ctx(address), submission_id=submission_id, score=score))
