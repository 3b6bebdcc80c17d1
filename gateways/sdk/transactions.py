"""Build and sign transactions locally: keys never leave the caller's machine."""

from __future__ import annotations

import time

from streams import wire
from streams.envelope import sign_tx
from streams.keys import Keypair


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def transfer(
    keypair: Keypair, *, chain_id: str, to: str, amount: int, nonce: int, memo: str = "",
    created_at: int | None = None, expires_at: int | None = None,
) -> tuple[str, bytes]:  # fmt: skip
    return sign(keypair, wire.Transfer, chain_id=chain_id, nonce=nonce, created_at=created_at,
                expires_at=expires_at, to=to, amount=amount, memo=memo)  # fmt: skip


def mint(
    keypair: Keypair, *, chain_id: str, to: str, amount: int, nonce: int, memo: str = "",
    created_at: int | None = None,
) -> tuple[str, bytes]:  # fmt: skip
    return sign(keypair, wire.Mint, chain_id=chain_id, nonce=nonce, created_at=created_at,
                to=to, amount=amount, memo=memo)  # fmt: skip


def sign(keypair: Keypair, kind: type[wire.Body], *, chain_id: str, nonce: int,
         created_at: int | None = None, expires_at: int | None = None,
         **fields: object) -> tuple[str, bytes]:  # fmt: skip
    """Build a body of any kind (e.g. ``wire_market.TaskJoin``), sign it, return (txid, envelope).

    The keyword arguments are the kind's own fields (see docs/PROTOCOL.md).
    """
    body = kind(
        chain_id=chain_id, signer=keypair.address, nonce=nonce,
        created_at=now_ms() if created_at is None else created_at, expires_at=expires_at,
        **fields,
    )  # fmt: skip
    return sign_tx(body, keypair)
