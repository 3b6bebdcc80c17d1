"""The validator's part of the client: register with a stake, vote, report and confirm fraud."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from gateways.sdk.errors import AIValidationError
from gateways.sdk.types import FraudKind, TaskSolution
from streams import wire_market

if TYPE_CHECKING:
    from gateways.sdk.client import HiveClient


class AIValidator:
    def __init__(self, client: HiveClient) -> None:
        self.client = client

    async def register(self, stake_amount: int) -> str:
        """Register as a validator, locking ``stake_amount`` units (it weighs the votes)."""
        result = await self.client.send_transaction(
            "ai_registerValidator", wire_market.ValidatorRegister, stake_amount=stake_amount
        )
        return str(result.get("registration_id") or result["txid"])

    async def submit_validation(self, submission_id: str, score: int) -> str:
        """Score a submission from 0 to 100; returns the vote id (txid)."""
        result = await self.client.send_transaction(
            "ai_submitValidation", wire_market.Vote, submission_id=submission_id, score=score
        )
        return str(result.get("vote_id") or result["txid"])

    vote = submit_validation

    async def report_fraud(
        self, accused: str, task_id: str, fraud_type: FraudKind | str, *,
        evidence: bytes | str | None = None, evidence_hash: str | None = None,
        submission_id: str = "",
    ) -> str:  # fmt: skip
        """Accuse a participant of a task; returns the fraud alert's id.

        Pass the evidence itself (its SHA-256 is sent, the evidence stays with you) or
        its ``evidence_hash`` (64 hex digits).
        """
        if (evidence is None) == (evidence_hash is None):
            raise AIValidationError("bad_request", "pass evidence or evidence_hash, not both")
        if evidence is not None:
            data = evidence.encode("utf-8") if isinstance(evidence, str) else evidence
            evidence_hash = hashlib.sha256(data).hexdigest()
        result = await self.client.send_transaction(
            "ai_reportFraud", wire_market.FraudReport, accused=accused, task_id=task_id,
            fraud_type=FraudKind(fraud_type), evidence_hash=evidence_hash,
            submission_id=submission_id,
        )  # fmt: skip
        return str(result.get("fraud_id") or result["txid"])

    async def confirm_fraud(self, fraud_id: str) -> str:
        """Back a fraud alert with this validator's stake; enforced past half the stake."""
        result = await self.client.send_transaction(
            "ai_confirmFraud", wire_market.FraudConfirm, fraud_id=fraud_id
        )
        return str(result.get("fraud_id") or result["txid"])

    async def get_info(self, address: str | None = None) -> dict[str, Any]:
        """{address, stake, reputation, votes, agreed, outliers}; this client's own by default."""
        address = address or (await self.client.signer()).address
        return dict(await self.client.rpc_call("ai_getValidatorInfo", {"address": address}))

    async def list_fraud_alerts(self, status: str | None = None,
                                accused: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        params = {k: v for k, v in (("status", status), ("accused", accused)) if v}
        return list((await self.client.rpc_call("ai_listFraudAlerts", params))["alerts"])

    async def get_solution(self, submission_id: str) -> TaskSolution | None:
        """The submitted solution, read from its transaction; None when it was not inline
        (fetch its content_uri and check it with TaskSolution.content_hash) or is not a
        TaskSolution's JSON (another client's free text)."""
        record = await self.client.get_transaction(submission_id)
        content = (record.get("body") or {}).get("content") or ""
        if not content:
            return None
        try:
            return TaskSolution.from_content(content)
        except (ValueError, KeyError, TypeError):
            return None
