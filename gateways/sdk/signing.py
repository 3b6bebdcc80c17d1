"""Local signing for the async client: the wallet, the chain id and the nonce.

The key never leaves the process. The chain id comes from ``ai_getChainInfo`` and the
first nonce from ``ai_getBalance`` (``next_nonce``); after that the signer counts its own
nonces. Writes go one at a time (a lock): nonces must rise by exactly one, and the node
sequences what it receives in order, so a later nonce must not overtake an earlier one.

A rejected transaction does not use its nonce (the ledger moves a nonce only on success),
so the next write reuses it. After a ``timeout``, a lost connection or a cancellation the
transaction may still be sequenced: the signer forgets its count and asks the node again
before the next write. ``nonce_stale`` / ``nonce_gap`` (another program signed with the
same key) make it resync and sign again, up to ``NONCE_RETRIES`` times.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from domain.errors import LedgerError
from gateways.sdk import transactions
from gateways.sdk.errors import NONCE_CODES, AIRPCError, AIValidationError
from streams import wire
from streams.keys import Keypair
from streams.keystore import Keystore

log = logging.getLogger(__name__)

WALLET_ENV = "HIVELEDGER_WALLET"
PASSWORD_ENV = "HIVELEDGER_PASSWORD"
NONCE_RETRIES = 3

RpcCall = Callable[[str, dict[str, Any]], Awaitable[Any]]
Wallet = Keypair | str | Path | None


def load_wallet(wallet: Wallet, password: str | None, keystore_home: Path | str | None,
                wallet_path: Path | str | None = None) -> tuple[Keypair, str]:  # fmt: skip
    """The keypair and where it came from ("keypair", "keystore:<name>", "ephemeral").

    ``wallet``: a Keypair; a keystore wallet's name; None for $HIVELEDGER_WALLET, or, when
    that is unset too, a fresh key held only in memory. ``wallet_path`` (seed 000's
    argument) is a keystore file, ``<home>/keystore/<name>.json``. The password defaults
    to $HIVELEDGER_PASSWORD, then "". Blocking (the keystore's KDF): run it in a thread.
    """
    if isinstance(wallet, Keypair):
        return wallet, "keypair"
    if wallet_path is not None and wallet is None:
        path = Path(wallet_path).expanduser()
        keystore_home, wallet = path.parent.parent, path.stem
    if wallet is None:
        wallet = os.environ.get(WALLET_ENV) or None
    if wallet is None:
        keypair = Keypair.from_seed32(os.urandom(32))
        log.warning("no wallet given and %s unset: using a new key held only in memory, %s",
                    WALLET_ENV, keypair.address)  # fmt: skip
        return keypair, "ephemeral"
    secret = password if password is not None else os.environ.get(PASSWORD_ENV, "")
    try:
        keypair = Keystore(keystore_home).load(str(wallet), secret)
    except LedgerError as error:
        raise AIValidationError.from_ledger(error) from None
    return keypair, f"keystore:{wallet}"


class Signer:
    """Signs bodies of any kind with one keypair and sends them through ``rpc``."""

    def __init__(self, keypair: Keypair, rpc: RpcCall) -> None:
        self.keypair = keypair
        self._rpc = rpc
        self._lock = asyncio.Lock()
        self.chain_id: str | None = None
        self._next_nonce: int | None = None

    @property
    def address(self) -> str:
        return self.keypair.address

    async def _chain(self) -> str:
        if self.chain_id is None:
            info = await self._rpc("ai_getChainInfo", {})
            self.chain_id = str(info["chain_id"])
        return self.chain_id

    async def _nonce(self) -> int:
        if self._next_nonce is None:
            account = await self._rpc("ai_getBalance", {"address": self.address})
            self._next_nonce = int(account["next_nonce"])
        return self._next_nonce

    def forget_nonce(self) -> None:
        self._next_nonce = None

    async def send(self, method: str, kind: type[wire.Body], **fields: Any) -> dict[str, Any]:
        """Sign a ``kind`` body and call ``method`` with it, waiting for the outcome."""
        async with self._lock:
            for attempt in range(NONCE_RETRIES + 1):
                chain_id, nonce = await self._chain(), await self._nonce()
                try:
                    txid, envelope = transactions.sign(
                        self.keypair, kind, chain_id=chain_id, nonce=nonce, **fields
                    )
                except LedgerError as error:
                    raise AIValidationError.from_ledger(error) from None
                try:
                    result = await self._send_once(method, envelope)
                except AIRPCError as error:
                    if error.code in NONCE_CODES and attempt < NONCE_RETRIES:
                        log.info("%s for %s: resyncing the nonce", error.code, txid)
                        self.forget_nonce()
                        continue
                    raise
                self._next_nonce = nonce + 1
                return result
        raise AssertionError("unreachable")

    async def _send_once(self, method: str, envelope: bytes) -> dict[str, Any]:
        params = {"envelope": envelope.decode(), "wait": True}
        try:
            result = await self._rpc(method, params)
        except AIRPCError as error:
            if error.number <= 1000 or error.code in ("timeout", "unavailable"):
                self.forget_nonce()  # outcome unknown (or not a ledger verdict): ask again
            raise
        except BaseException:  # cancelled, or a bug: the transaction may still land
            self.forget_nonce()
            raise
        if not isinstance(result, dict):
            self.forget_nonce()
            raise AIRPCError("unavailable", f"{method} answered {result!r}, not an object")
        status = result.get("status")
        if status is not None and status != "accepted":
            code = str(result.get("code") or "rpc_error")
            raise AIRPCError(code, str(result.get("message", status)), data=result)
        return result
