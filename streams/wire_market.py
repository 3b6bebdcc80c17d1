"""Wire types of the marketplace's transactions (seed 000's actions)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from domain.market_types import DifficultyLevel, FraudKind, TaskType, VerificationType
from streams.wire_types import MAX_I63, Address, Amount, Body, UnixMillis, register

Hash = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$", description="64 lowercase hex digits")]
Units = Annotated[
    int, Meta(ge=0, le=MAX_I63, description="integer units, may be 0", extra={"hive": "amount"})
]


def text(max_bytes: int, min_length: int = 0) -> object:
    return Annotated[
        str,
        Meta(
            min_length=min_length,
            max_length=max_bytes,
            description=f"at most {max_bytes} bytes in UTF-8",
            extra={"max_utf8_bytes": max_bytes},
        ),
    ]


Title = text(128, 1)
Description = text(2000)
Content = text(2048)
Uri = text(512)
Label = text(64, 1)
Score = Annotated[int, Meta(ge=0, le=100)]
Percent = Annotated[int, Meta(ge=0, le=100)]
Participants = Annotated[
    int, Meta(ge=1, le=100, description="at most 100: a settlement is one atomic batch")
]
Window = Annotated[int, Meta(ge=1_000, le=30 * 86_400_000, description="milliseconds")]
Skills = Annotated[list[Label], Meta(max_length=32)]  # type: ignore[valid-type]
Specializations = Annotated[list[TaskType], Meta(max_length=6)]
Contact = Annotated[dict[Label, Uri], Meta(max_length=8)]  # type: ignore[valid-type]

DEFAULT_VALIDATION_WINDOW_MS = 600_000


@register
class TaskPublish(Body, tag="task_publish"):
    """Publish a task; ``reward_amount`` is escrowed from the signer at once. The task id
    is this transaction's id."""

    title: Title  # type: ignore[valid-type]
    description: Description  # type: ignore[valid-type]
    task_type: TaskType
    difficulty: DifficultyLevel
    reward_amount: Amount
    stake_required: Units
    deadline: UnixMillis
    verification_type: VerificationType
    quality_threshold: Percent
    max_participants: Participants
    validation_window: Window = DEFAULT_VALIDATION_WINDOW_MS


@register
class TaskCancel(Body, tag="task_cancel"):
    task_id: Hash


@register
class MinerRegister(Body, tag="miner_register"):
    miner_id: Label  # type: ignore[valid-type]
    skills: Skills = []  # noqa: RUF012 - msgspec copies defaults
    specializations: Specializations = []  # noqa: RUF012
    contact: Contact = {}  # noqa: RUF012


@register
class TaskJoin(Body, tag="task_join"):
    task_id: Hash
    stake_amount: Amount


@register
class SolutionSubmit(Body, tag="solution_submit"):
    """``content`` inline (up to 2048 bytes, and then ``content_hash`` = its SHA-256) or
    only a reference in ``content_uri``. The submission id is this transaction's id."""

    task_id: Hash
    content_hash: Hash
    content: Content = ""  # type: ignore[valid-type]
    content_uri: Uri = ""  # type: ignore[valid-type]


@register
class ValidatorRegister(Body, tag="validator_register"):
    stake_amount: Amount


@register
class Vote(Body, tag="vote"):
    submission_id: Hash
    score: Score


@register
class FraudReport(Body, tag="fraud_report"):
    """The fraud alert's id is this transaction's id."""

    accused: Address
    task_id: Hash
    fraud_type: FraudKind
    evidence_hash: Hash
    submission_id: Annotated[str, Meta(pattern=r"^([0-9a-f]{64})?$")] = ""


@register
class FraudConfirm(Body, tag="fraud_confirm"):
    fraud_id: Hash
