"""The async client (seed 000's TOSAIClient, here HiveClient) over JSON-RPC 2.0 at /rpc.

    async with HiveClient("http://127.0.0.1:8545", wallet="alice") as client:
        status = await client.get_network_status()
        task_id = await client.publisher.publish_task(spec)

Reads are plain JSON-RPC calls. Writes are signed here (see gateways/sdk/signing.py) and
sent as ``{"envelope": ..., "wait": true}``: a write returns once the ledger decided, and
raises AIRPCError with the ledger's code when it refused.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import aiohttp

from gateways.sdk.errors import AIRPCError, AIValidationError
from gateways.sdk.miner import AIMiner
from gateways.sdk.publisher import TaskPublisher
from gateways.sdk.signing import Signer, Wallet, load_wallet
from gateways.sdk.types import MinerStats, NetworkStatus, TaskDetails, TaskFilters, TaskSummary
from gateways.sdk.validator import AIValidator
from streams import wire
from streams.keys import Keypair

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_TIMEOUT_S = 60.0


def rpc_endpoint(url: str) -> str:
    """Seed 000 posts to the bare node URL; the node serves JSON-RPC at /rpc."""
    url = url.rstrip("/")
    return url if url.endswith("/rpc") else url + "/rpc"


class HiveClient:
    """The node's marketplace and wallet through one async client.

    ``wallet``: a Keypair, or a keystore wallet's name (decrypted with ``password``, else
    $HIVELEDGER_PASSWORD, else ""; keystore under ``keystore_home``, else
    $HIVELEDGER_HOME, else ~/.hiveledger). Without one: $HIVELEDGER_WALLET if set, else a
    new key held only in memory (enough to read and to register as a miner, which costs
    nothing; anything that moves money then fails with ``insufficient_funds``).
    ``wallet_path`` is seed 000's argument: a keystore file, <home>/keystore/<name>.json.
    """

    def __init__(
        self,
        rpc_url: str = DEFAULT_RPC_URL,
        wallet_path: str | Path | None = None,
        *,
        wallet: Wallet = None,
        password: str | None = None,
        keystore_home: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.rpc_url = rpc_url
        self.endpoint = rpc_endpoint(rpc_url)
        self.wallet_path = wallet_path
        self.session: aiohttp.ClientSession | None = None
        self.timeout = timeout
        self._wallet_args = (wallet, password, keystore_home, wallet_path)
        self._signer: Signer | None = None
        self._signer_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.wallet_source = ""
        self.miner = AIMiner(self)
        self.validator = AIValidator(self)
        self.publisher = TaskPublisher(self)

    async def __aenter__(self) -> HiveClient:
        self._ensure_session()
        try:
            await self.signer()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.miner.stop_auto_mining()
        await self.miner.wait_stopped()
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self.session

    # -- the wallet -------------------------------------------------------------------
    async def signer(self) -> Signer:
        """The signer, loading the wallet on first use (the keystore's KDF in a thread)."""
        async with self._signer_lock:
            if self._signer is None:
                keypair, self.wallet_source = await asyncio.to_thread(
                    load_wallet, *self._wallet_args
                )
                self._signer = Signer(keypair, self.rpc_call)
        return self._signer

    @property
    def address(self) -> str:
        """This client's address (after ``async with`` or a first write)."""
        if self._signer is None:
            raise AIValidationError("bad_request", "the wallet is not loaded yet: use async with")
        return self._signer.address

    @property
    def keypair(self) -> Keypair | None:
        return self._signer.keypair if self._signer is not None else None

    async def send_transaction(self, method: str, kind: type[wire.Body],
                               **fields: Any) -> dict[str, Any]:  # fmt: skip
        """Sign a body of ``kind`` with this client's key and send it with ``method``."""
        return await (await self.signer()).send(method, kind, **fields)

    # -- JSON-RPC ---------------------------------------------------------------------
    async def rpc_call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call a JSON-RPC method; its ``result``, or AIRPCError from its error object."""
        payload = {"jsonrpc": "2.0", "method": method, "params": params or {},
                   "id": next(self._ids)}  # fmt: skip
        session = self._ensure_session()
        try:
            async with session.post(self.endpoint, json=payload) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError:  # before OSError, its base class
            raise AIRPCError("timeout", f"{method}: no answer within {self.timeout}s") from None
        except (aiohttp.ClientError, OSError) as error:
            raise AIRPCError("unavailable", f"cannot reach {self.endpoint}: {error}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise AIRPCError(
                "unavailable", f"{self.endpoint} answered HTTP {status}, not JSON-RPC"
            ) from None
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise AIRPCError("unavailable", f"{self.endpoint}: not a JSON-RPC response")
        if answer.get("error") is not None:
            raise AIRPCError(answer["error"])
        return answer["result"]

    # -- reads (seed 000) -------------------------------------------------------------
    async def get_network_status(self) -> NetworkStatus:
        return NetworkStatus.from_dict(await self.rpc_call("ai_getNetworkStatus"))

    async def get_task_details(self, task_id: str) -> TaskDetails:
        return TaskDetails.from_dict(await self.rpc_call("ai_getTaskDetails", {"task_id": task_id}))

    async def list_active_tasks(self, filters: TaskFilters | None = None) -> list[TaskSummary]:
        params = {"filters": filters.to_dict()} if filters else {}
        result = await self.rpc_call("ai_listActiveTasks", params)
        return [TaskSummary.from_dict(task) for task in result["tasks"]]

    async def get_miner_stats(self, miner_address: str | None = None) -> MinerStats:
        """A miner's figures; this client's own without an address."""
        address = miner_address or (await self.signer()).address
        return MinerStats.from_dict(
            await self.rpc_call("ai_getMinerStats", {"miner_address": address})
        )

    # -- wallet -----------------------------------------------------------------------
    async def get_account(self, address: str | None = None) -> dict[str, Any]:
        """{address, balance, nonce, next_nonce}; this client's own without an address."""
        address = address or (await self.signer()).address
        return dict(await self.rpc_call("ai_getBalance", {"address": address}))

    async def get_balance(self, address: str | None = None) -> int:
        """The balance in units (1 token = 10^9 units)."""
        return int((await self.get_account(address))["balance"])

    async def get_chain_info(self) -> dict[str, Any]:
        return dict(await self.rpc_call("ai_getChainInfo"))

    async def get_transaction(self, txid: str) -> dict[str, Any]:
        return dict(await self.rpc_call("ai_getTransaction", {"txid": txid}))

    async def transfer(self, to: str, amount: int, memo: str = "") -> str:
        """Send ``amount`` units to ``to``; returns the txid."""
        result = await self.send_transaction(
            "ai_transfer", wire.Transfer, to=to, amount=amount, memo=memo
        )
        return str(result["txid"])


TOSAIClient = HiveClient
