"""The chain aggregate: genesis allocations, the treasury, and the total supply."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import LedgerAggregate
from domain.errors import ErrorCode, LedgerError
from domain.money import MAX_AMOUNT


class Chain(LedgerAggregate):
    """Genesis and mints are the only sources of tokens: ``supply`` is their sum.

    Conservation, checked by the sequencer and by audits: at every ledger position the
    balances (plus, later, escrow and locked stake) add up to ``supply``.
    """

    @staticmethod
    def create_id(chain_id: str) -> str:
        return f"chain.{chain_id}"

    @event("Created")
    def __init__(self, chain_id: str, treasury: str, allocations: dict[str, int]) -> None:
        total = sum(allocations.values())
        assert all(type(v) is int and v > 0 for v in allocations.values())
        assert total <= MAX_AMOUNT
        self.chain_id = chain_id
        self.treasury = treasury
        self.genesis_supply = total
        self.minted = 0

    @property
    def supply(self) -> int:
        return self.genesis_supply + self.minted

    def check_minter(self, signer: str) -> None:
        if signer != self.treasury:
            raise LedgerError(ErrorCode.NOT_TREASURY, f"{signer} is not the treasury")

    def check_can_mint(self, amount: int) -> None:
        if self.supply + amount > MAX_AMOUNT:
            raise LedgerError(ErrorCode.SUPPLY_OVERFLOW, "total supply would exceed 2^63-1")

    def mint(self, *, tx: str, to: str, amount: int) -> None:
        self.check_can_mint(amount)
        self._minted(tx=tx, to=to, amount=amount)

    @event("Minted")
    def _minted(self, tx: str, to: str, amount: int) -> None:
        self.minted += amount
