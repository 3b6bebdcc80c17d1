"""The benchmark's workload: N signed transfers among W wallets, made once, used by every
runner so that all figures are measured on the same envelopes."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from domain.money import UNIT
from gateways.sdk import transactions
from streams.keys import Keypair

FUND_UNITS = 100_000 * UNIT  # per wallet: far more than the random transfers can spend
MAX_TRANSFER_UNITS = 1_000


@dataclass(frozen=True)
class Workload:
    chain_id: str
    treasury: Keypair
    wallets: list[Keypair]
    envelopes: list[bytes]  # funding transfers first, then random transfers
    txids: list[str]

    @property
    def size(self) -> int:
        return len(self.envelopes)


def bench_keypair(label: str) -> Keypair:
    return Keypair.from_seed32(hashlib.sha256(f"hiveledger-bench/{label}".encode()).digest())


def make_workload(
    n: int,
    wallets: int,
    chain_id: str,
    treasury: Keypair,
    seed: int = 1,
    progress: Callable[[int], None] = lambda _: None,
) -> Workload:
    """``wallets`` funding transfers from the treasury, then ``n - wallets`` random ones."""
    assert 2 <= wallets <= n
    rng = random.Random(seed)
    keys = [bench_keypair(f"{seed}/{i}") for i in range(wallets)]
    nonces = dict.fromkeys((k.address for k in keys), 0)
    envelopes: list[bytes] = []
    txids: list[str] = []
    created_at = 1_700_000_000_000
    for treasury_nonce, key in enumerate(keys, start=1):
        txid, envelope = transactions.transfer(
            treasury,
            chain_id=chain_id,
            to=key.address,
            amount=FUND_UNITS,
            nonce=treasury_nonce,
            created_at=created_at,
        )
        envelopes.append(envelope)
        txids.append(txid)
    progress(wallets)
    for i in range(n - wallets):
        src, dst = rng.sample(keys, 2)
        nonces[src.address] += 1
        txid, envelope = transactions.transfer(
            src,
            chain_id=chain_id,
            to=dst.address,
            amount=rng.randint(1, MAX_TRANSFER_UNITS),
            nonce=nonces[src.address],
            created_at=created_at + i,
        )
        envelopes.append(envelope)
        txids.append(txid)
        if i % 1000 == 999:
            progress(1000)
    progress((n - wallets) % 1000)
    return Workload(chain_id, treasury, keys, envelopes, txids)
