"""The wallet aggregate: an address's balance and its signing nonce."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate
from domain.errors import ErrorCode, LedgerError
from domain.money import MAX_AMOUNT


class Wallet(LedgerAggregate):
    """Balance in units; ``nonce`` is the last nonce this address signed with (0: none yet).

    A wallet opens the first time money reaches an address or the address signs an
    accepted transaction. Guards run before any event is triggered, so a refused command
    leaves the aggregate untouched.
    """

    @staticmethod
    def create_id(address: str) -> str:
        return f"wallet.{address}"

    @event("Opened")
    def __init__(self, address: str) -> None:
        self.address = address
        self.balance = 0
        self.nonce = 0

    # -- guards ---------------------------------------------------------------------
    def check_nonce(self, nonce: int) -> None:
        check_next_nonce(self.nonce, nonce)

    def check_can_pay(self, amount: int) -> None:
        if amount > self.balance:
            raise LedgerError(
                ErrorCode.INSUFFICIENT_FUNDS,
                f"balance {self.balance} units is less than {amount} units",
            )

    def check_can_receive(self, amount: int) -> None:
        if self.balance + amount > MAX_AMOUNT:
            raise LedgerError(ErrorCode.BALANCE_OVERFLOW, "balance would exceed 2^63-1 units")

    # -- commands -------------------------------------------------------------------
    def send(self, *, tx: str, to: str, amount: int, nonce: int) -> None:
        self.check_nonce(nonce)
        self.check_can_pay(amount)
        self._debited(tx=tx, to=to, amount=amount, nonce=nonce)

    def receive(self, *, tx: str, source: str, amount: int) -> None:
        self.check_can_receive(amount)
        self._credited(tx=tx, source=source, amount=amount)

    def use_nonce(self, *, tx: str, nonce: int) -> None:
        """Record a signed, accepted transaction that moves no money out of this wallet."""
        self.check_nonce(nonce)
        self._nonce_used(tx=tx, nonce=nonce)

    # -- events ---------------------------------------------------------------------
    @event("Debited")
    def _debited(self, tx: str, to: str, amount: int, nonce: int) -> None:
        self.balance -= amount
        self.nonce = nonce
        assert self.balance >= 0, f"negative balance on {self.address}"

    @event("Credited")
    def _credited(self, tx: str, source: str, amount: int) -> None:
        self.balance += amount
        assert 0 <= self.balance <= MAX_AMOUNT, f"balance out of range on {self.address}"

    @event("NonceUsed")
    def _nonce_used(self, tx: str, nonce: int) -> None:
        self.nonce = nonce


def check_next_nonce(last: int, nonce: int) -> None:
    """Each signer's nonce rises by exactly one: last + 1, nothing else."""
    if nonce <= last:
        raise LedgerError(
            ErrorCode.NONCE_STALE, f"nonce {nonce} already used; the next nonce is {last + 1}"
        )
    if nonce > last + 1:
        raise LedgerError(
            ErrorCode.NONCE_GAP, f"nonce {nonce} skips ahead; the next nonce is {last + 1}"
        )
