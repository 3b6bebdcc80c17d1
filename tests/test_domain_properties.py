"""Property tests: random sequences of transfers and mints against a reference model.

Invariants at every step: money is conserved (sum of balances = supply), no balance is
negative, nonces rise by exactly one, a refused command changes nothing, and the
domain agrees with a dictionary-based reference model on every figure.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.book import Book
from domain.commands import Mint, Transfer, TxContext
from domain.dispatch import execute
from domain.errors import LedgerError
from domain.handlers import create_chain
from domain.money import MAX_AMOUNT

ADDRESSES = [f"hive1w{i}" for i in range(5)]
TREASURY = ADDRESSES[0]
amounts = st.one_of(st.integers(-5, 2_000), st.sampled_from([0, MAX_AMOUNT, 2**63, 10**12]))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        genesis = create_chain("p", TREASURY, {TREASURY: 1_000, ADDRESSES[1]: 500}, lambda a: None)
        self.wallets = {w.address: w for w in genesis.wallets()}
        self.chain = genesis.chain
        # The reference model: plain dictionaries.
        self.balances = {TREASURY: 1_000, ADDRESSES[1]: 500}
        self.nonces: dict[str, int] = {}
        self.supply = 1_500
        self.count = 0

    def _run(self, command: Transfer | Mint, expect_ok: bool) -> None:
        book = Book(self.chain, self.wallets.get)
        try:
            execute(command, book)
        except LedgerError:
            assert not expect_ok
            assert not book.changed
            return
        assert expect_ok
        for agg in book.changed.values():
            agg.collect_events()
            if hasattr(agg, "address"):
                self.wallets[agg.address] = agg

    def _ctx(self, signer: str, nonce_shift: int) -> TxContext:
        self.count += 1
        nonce = self.nonces.get(signer, 0) + 1 + nonce_shift
        return TxContext(txid=f"t{self.count}", signer=signer, nonce=nonce, sequenced_at=0)

    @rule(
        src=st.sampled_from(ADDRESSES),
        dst=st.sampled_from(ADDRESSES),
        amount=amounts,
        nonce_shift=st.sampled_from([0, 0, 0, -1, 1]),
    )
    def transfer(self, src: str, dst: str, amount: int, nonce_shift: int) -> None:
        ctx = self._ctx(src, nonce_shift)
        ok = (
            nonce_shift == 0
            and src != dst
            and 0 < amount <= MAX_AMOUNT
            and self.balances.get(src, 0) >= amount
        )
        self._run(Transfer(ctx, to=dst, amount=amount), ok)
        if ok:
            self.balances[src] -= amount
            self.balances[dst] = self.balances.get(dst, 0) + amount
            self.nonces[src] = ctx.nonce

    @rule(signer=st.sampled_from(ADDRESSES[:2]), dst=st.sampled_from(ADDRESSES), amount=amounts)
    def mint(self, signer: str, dst: str, amount: int) -> None:
        ctx = self._ctx(signer, 0)
        ok = signer == TREASURY and 0 < amount <= MAX_AMOUNT and self.supply + amount <= MAX_AMOUNT
        self._run(Mint(ctx, to=dst, amount=amount), ok)
        if ok:
            self.supply += amount
            self.balances[dst] = self.balances.get(dst, 0) + amount
            self.nonces[signer] = ctx.nonce

    @invariant()
    def conserved_and_agrees_with_model(self) -> None:
        total = sum(w.balance for w in self.wallets.values())
        assert total == self.chain.supply == self.supply
        assert all(w.balance >= 0 for w in self.wallets.values())
        assert {a: w.balance for a, w in self.wallets.items() if w.balance} == {
            a: b for a, b in self.balances.items() if b
        }
        assert {a: w.nonce for a, w in self.wallets.items() if w.nonce} == self.nonces


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
