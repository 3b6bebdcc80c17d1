"""What the HTTP gateway needs from the node, as protocols: tests and the node wire them."""

from __future__ import annotations

from typing import Any, Protocol

from streams.envelope import OpenedTx
from streams.publisher import SubmitResult


class Submitter(Protocol):
    async def submit(self, envelope: bytes) -> SubmitResult:
        """Check the envelope (raising LedgerError), then publish it to INTAKE."""
        ...

    async def publish(self, opened: OpenedTx) -> SubmitResult:
        """Publish an envelope the caller has already checked with ``open_envelope``."""
        ...

    async def submit_many(self, envelopes: list[bytes]) -> list[SubmitResult]:
        """Check every envelope (the first bad one refuses them all), then publish them
        to INTAKE as atomic batches."""
        ...

    async def wait_decided(self, txid: str, timeout: float) -> bool:
        """Wait until the transaction's record is projected; False on timeout."""
        ...


class Reads(Protocol):
    """Reads served from the DuckDB projections (blocking: the gateway runs them in threads)."""

    def transaction(self, txid: str) -> dict[str, Any] | None: ...

    def wallet(self, address: str) -> dict[str, Any] | None: ...

    def chain(self) -> dict[str, Any] | None: ...

    def sql(self, query: str) -> dict[str, Any]: ...

    def position(self) -> int: ...


class MarketReadsPort(Protocol):
    """The marketplace's reads (gateways/http/market_reads.py); blocking, like Reads."""

    chain_id: str

    def tasks(self, query: Any) -> list[dict[str, Any]]: ...

    def my_tasks(self, address: str, limit: int) -> list[dict[str, Any]]: ...

    def task(self, task_id: str) -> dict[str, Any] | None: ...

    def miner(self, address: str) -> dict[str, Any] | None: ...

    def validator(self, address: str) -> dict[str, Any] | None: ...

    def fraud_alerts(self, query: Any) -> list[dict[str, Any]]: ...

    def network_status(self, now_ms: int | None = None) -> dict[str, Any]: ...

    def market(self) -> dict[str, Any] | None: ...
