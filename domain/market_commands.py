"""The marketplace's commands (seed 000's actions), free of any wire format."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.commands import TxContext


@dataclass(frozen=True, slots=True)
class PublishTask:
    ctx: TxContext
    title: str
    description: str
    task_type: str
    difficulty: str
    reward: int
    stake_required: int
    deadline: int  # unix ms
    validation_window: int  # ms after the deadline for votes
    verification_type: str
    quality_threshold: int  # 0..100
    max_participants: int


@dataclass(frozen=True, slots=True)
class CancelTask:
    ctx: TxContext
    task_id: str


@dataclass(frozen=True, slots=True)
class RegisterMiner:
    ctx: TxContext
    miner_id: str
    skills: tuple[str, ...] = ()
    specializations: tuple[str, ...] = ()
    contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JoinTask:
    ctx: TxContext
    task_id: str
    stake: int


@dataclass(frozen=True, slots=True)
class SubmitSolution:
    ctx: TxContext
    task_id: str
    content_hash: str
    content: str = ""
    content_uri: str = ""


@dataclass(frozen=True, slots=True)
class RegisterValidator:
    ctx: TxContext
    stake: int


@dataclass(frozen=True, slots=True)
class CastVote:
    ctx: TxContext
    submission_id: str
    score: int  # 0..100


@dataclass(frozen=True, slots=True)
class ReportFraud:
    ctx: TxContext
    accused: str
    task_id: str
    kind: str
    evidence_hash: str
    submission_id: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmFraud:
    ctx: TxContext
    fraud_id: str


MarketCommand = (
    PublishTask | CancelTask | RegisterMiner | JoinTask | SubmitSolution | RegisterValidator
    | CastVote | ReportFraud | ConfirmFraud
)  # fmt: skip
