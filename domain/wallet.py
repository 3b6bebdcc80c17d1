"""The wallet aggregate: an address's balance and its signing nonce."""

from __future__ import annotations

from domain.base import LedgerAggregate
from domain.errors import ErrorCode, LedgerError
from domain.money import MAX_AMOUNT


class Wallet(LedgerAggregate):
    """Balance in units; ``nonce`` is the last nonce this address signed with (0: none yet).

    A wallet opens the first time money reaches an address or the address signs an
    accepted transaction. Guards run before any event is triggered, so a refused command
    leaves the aggregate untouched.

    Every transfer triggers two of these events, so they are declared explicitly and
    triggered with ``trigger_event`` (the library's explicit style) rather than through
    ``@event`` methods, whose argument coercion and filtering cost about as much as the
    rest of the event. Names, fields (and their order) and so topics and stored states are
    those the decorators defined: tests/test_domain_events_wire.py holds them.
    """

    class Event(LedgerAggregate.Event):
        pass

    class Opened(LedgerAggregate.Created, Event):
        address: str

    class Debited(Event):
        tx: str
        to: str
        amount: int
        nonce: int

        def apply(self, wallet: Wallet) -> None:
            wallet.balance -= self.amount
            wallet.nonce = self.nonce
            assert wallet.balance >= 0, f"negative balance on {wallet.address}"

    class Credited(Event):
        tx: str
        source: str
        amount: int

        def apply(self, wallet: Wallet) -> None:
            wallet.balance += self.amount
            assert 0 <= wallet.balance <= MAX_AMOUNT, f"balance out of range on {wallet.address}"

    class NonceUsed(Event):
        tx: str
        nonce: int

        def apply(self, wallet: Wallet) -> None:
            wallet.nonce = self.nonce

    @staticmethod
    def create_id(address: str) -> str:
        return f"wallet.{address}"

    @classmethod
    def open(cls, address: str) -> Wallet:
        """A new wallet (its Opened event pending); the same as ``Wallet(address=...)``."""
        return cls._create(cls.Opened, address=address)

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
        self.trigger_event(self.Debited, tx=tx, to=to, amount=amount, nonce=nonce)

    def receive(self, *, tx: str, source: str, amount: int) -> None:
        self.check_can_receive(amount)
        self.trigger_event(self.Credited, tx=tx, source=source, amount=amount)

    def use_nonce(self, *, tx: str, nonce: int) -> None:
        """Record a signed, accepted transaction that moves no money out of this wallet."""
        self.check_nonce(nonce)
        self.trigger_event(self.NonceUsed, tx=tx, nonce=nonce)


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
