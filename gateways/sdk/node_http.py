"""A small synchronous client of a node's REST API (the CLI's transport)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from domain.errors import ErrorCode, LedgerError

DEFAULT_NODE = "http://127.0.0.1:8545"


class NodeHTTP:
    def __init__(self, url: str = DEFAULT_NODE, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: bytes | None = None, wait: float = 0.0) -> Any:
        """One request; ``wait``: seconds the node may hold the answer back (added to the
        client's own timeout)."""
        try:
            request = urllib.request.Request(
                self.url + path,
                data=body,
                method=method,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except ValueError as error:  # e.g. "not a url": no scheme at all
            raise LedgerError(
                ErrorCode.UNAVAILABLE, f"{self.url!r} is not a node URL: {error}"
            ) from None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + wait) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _as_ledger_error(error) from None
        except http.client.HTTPException as error:  # not HTTP at all, e.g. the NATS port
            raise LedgerError(
                ErrorCode.UNAVAILABLE,
                f"{self.url} did not answer in HTTP ({type(error).__name__}): is it a node?",
            ) from None
        except (OSError, ValueError) as error:  # URLError, refused, reset, timeout
            raise LedgerError(
                ErrorCode.UNAVAILABLE, f"cannot reach the node at {self.url}: {error}"
            ) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise LedgerError(
                ErrorCode.UNAVAILABLE, f"{self.url} answered, but not with JSON: is it a node?"
            ) from None

    def chain(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/chain"))

    def wallet(self, address: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/wallets/{urllib.parse.quote(address)}"))

    def transaction(self, txid: str, wait: float | None = None) -> dict[str, Any]:
        """The transaction's record; ``wait``: seconds (up to 60) to wait for its decision
        (LedgerError TIMEOUT if none by then), however it was submitted."""
        query = f"?wait=1&timeout={wait}" if wait else ""
        path = f"/v1/tx/{urllib.parse.quote(txid)}{query}"
        return dict(self._call("GET", path, wait=wait or 0.0))

    def submit(self, envelope: bytes, wait: bool = True, timeout: float = 15.0) -> dict[str, Any]:
        query = f"?wait=1&timeout={timeout}" if wait else ""
        return dict(self._call("POST", f"/v1/tx{query}", envelope, wait=timeout if wait else 0.0))

    def submit_many(self, envelopes: list[bytes]) -> list[dict[str, Any]]:
        """Up to 1000 envelopes in one request (POST /v1/txs): all taken, or none (the
        first bad one raises LedgerError naming its index). Returns {txid, status} each."""
        result = self._call("POST", "/v1/txs", b"\n".join(envelopes))
        return list(result["results"])

    def sql(self, query: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/sql", json.dumps({"sql": query}).encode()))

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC 2.0 call at /rpc; an error object becomes a LedgerError."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}})
        try:
            reply = self._call("POST", "/rpc", body.encode())
        except LedgerError:
            raise
        if "error" in reply:
            error = reply["error"]
            data = error.get("data") or {}
            try:
                code = ErrorCode.from_code(str(data.get("code", "")))
            except KeyError:
                code = ErrorCode.BAD_REQUEST
            reason = data.get("reason") or error.get("message", "")
            raise LedgerError(code, str(reason))
        return reply["result"]

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/healthz"))


def _as_ledger_error(error: urllib.error.HTTPError) -> LedgerError:
    try:
        body = json.loads(error.read())
        return LedgerError(ErrorCode.from_code(body["code"]), body.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return LedgerError(ErrorCode.UNAVAILABLE, f"HTTP {error.code} from the node")
