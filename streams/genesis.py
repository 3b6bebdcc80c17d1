"""The genesis file: which chain, who the treasury is, and who starts with what."""

from __future__ import annotations

from pathlib import Path

import msgspec

from domain.errors import LedgerError
from domain.money import UNIT, check_amount
from streams.address import decode_address

DEV_CHAIN_ID = "hive-dev"
DEV_TREASURY_TOKENS = 1_000_000_000  # 10^18 units, well under 2^63-1
MAX_ALLOCATIONS = 400  # genesis is one atomic batch: 2 events per allocation


class Genesis(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chain_id: str
    treasury: str
    allocations: dict[str, int]

    def check(self) -> Genesis:
        if not 0 < len(self.allocations) <= MAX_ALLOCATIONS:
            raise ValueError(f"genesis needs 1..{MAX_ALLOCATIONS} allocations")
        try:
            decode_address(self.treasury)
            for address, amount in self.allocations.items():
                decode_address(address)
                check_amount(amount)
            check_amount(sum(self.allocations.values()))
        except LedgerError as error:
            raise ValueError(f"bad genesis: {error}") from None
        return self


def dev_genesis(treasury: str) -> Genesis:
    return Genesis(DEV_CHAIN_ID, treasury, {treasury: DEV_TREASURY_TOKENS * UNIT}).check()


def load(path: Path) -> Genesis:
    return msgspec.json.decode(path.read_bytes(), type=Genesis).check()


def save(path: Path, genesis: Genesis) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(genesis)))
