"""Build and sign transactions locally: keys never leave the caller's machine."""

from __future__ import annotations

import time

from streams import wire
from streams.envelope import sign_tx
from streams.keys import Keypair


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def transfer(
    keypair: Keypair,
    *,
    chain_id: str,
    to: str,
    amount: int,
    nonce: int,
    memo: str = "",
    created_at: int | None = None,
    expires_at: int | None = None,
) -> tuple[str, bytes]:
    body = wire.Transfer(
        chain_id=chain_id,
        signer=keypair.address,
        nonce=nonce,
        created_at=now_ms() if created_at is None else created_at,
        expires_at=expires_at,
        to=to,
        amount=amount,
        memo=memo,
    )
    return sign_tx(body, keypair)


def mint(
    keypair: Keypair,
    *,
    chain_id: str,
    to: str,
    amount: int,
    nonce: int,
    memo: str = "",
    created_at: int | None = None,
) -> tuple[str, bytes]:
    body = wire.Mint(
        chain_id=chain_id,
        signer=keypair.address,
        nonce=nonce,
        created_at=now_ms() if created_at is None else created_at,
        to=to,
        amount=amount,
        memo=memo,
    )
    return sign_tx(body, keypair)
