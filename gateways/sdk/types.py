"""Seed 000's data types: its names, fields, ``from_dict`` and ``to_dict``.

The enums are the ledger's own (domain/market_types.py, string enums with seed 000's
values). Times from the node are unix seconds and become naive local ``datetime`` objects,
as in seed 000, so ``task.deadline - datetime.now()`` works. Money is integer units
(1 token = 10^9 units). ``from_dict`` ignores fields it does not know, so a newer node
does not break an older SDK.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.market_types import DifficultyLevel, FraudKind, TaskStatus, TaskType, VerificationType

__all__ = [
    "AutoMiningConfig",
    "DifficultyLevel",
    "FraudKind",
    "MinerConfig",
    "MinerStats",
    "NetworkStatus",
    "TaskDetails",
    "TaskFilters",
    "TaskSolution",
    "TaskSpec",
    "TaskStatus",
    "TaskSummary",
    "TaskType",
    "VerificationType",
]


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value))


@dataclass
class TaskFilters:
    task_type: TaskType | None = None
    difficulty: DifficultyLevel | None = None
    min_reward: int | None = None
    max_reward: int | None = None
    deadline_before: datetime | None = None
    limit: int | None = None  # the node's addition: 1-1000, default 100 (soonest first)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.task_type:
            result["task_type"] = TaskType(self.task_type).value
        if self.difficulty:
            result["difficulty"] = DifficultyLevel(self.difficulty).value
        if self.min_reward:
            result["min_reward"] = self.min_reward
        if self.max_reward:
            result["max_reward"] = self.max_reward
        if self.deadline_before:
            result["deadline_before"] = int(self.deadline_before.timestamp())
        if self.limit:
            result["limit"] = self.limit
        return result


@dataclass
class TaskSummary:
    task_id: str
    title: str
    task_type: TaskType
    difficulty: DifficultyLevel
    reward_amount: int
    deadline: datetime
    participants_count: int
    max_participants: int
    publisher: str
    status: str = TaskStatus.OPEN.value

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSummary:
        return cls(
            task_id=data["task_id"],
            title=data["title"],
            task_type=TaskType(data["task_type"]),
            difficulty=DifficultyLevel(data["difficulty"]),
            reward_amount=data["reward_amount"],
            deadline=_time(data["deadline"]),
            participants_count=data["participants_count"],
            max_participants=data["max_participants"],
            publisher=data["publisher"],
            status=data.get("status") or TaskStatus.OPEN.value,
        )


@dataclass
class TaskDetails:
    """Seed 000's fields, then what the node adds (status, publisher, ...).

    ``submissions`` are dicts: submission_id, miner, content_hash, content, content_uri,
    votes, reached, score, confidence, submitted_at, won (docs/MARKET_API.md). After
    settlement ``payout`` went to ``winner`` (or ``refund`` back to the publisher).
    """

    task_id: str
    title: str
    description: str
    task_type: TaskType
    difficulty: DifficultyLevel
    reward_amount: int
    stake_required: int
    deadline: datetime
    verification_type: VerificationType
    quality_threshold: int
    participants: list[str]
    submissions: list[dict[str, Any]]
    status: str = TaskStatus.OPEN.value
    publisher: str = ""
    max_participants: int = 0
    winner: str = ""
    winning_submission: str = ""
    payout: int = 0
    refund: int = 0
    validation_window: int = 0  # milliseconds

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskDetails:
        return cls(
            task_id=data["task_id"],
            title=data["title"],
            description=data["description"],
            task_type=TaskType(data["task_type"]),
            difficulty=DifficultyLevel(data["difficulty"]),
            reward_amount=data["reward_amount"],
            stake_required=data["stake_required"],
            deadline=_time(data["deadline"]),
            verification_type=VerificationType(data["verification_type"]),
            quality_threshold=data["quality_threshold"],
            participants=list(data["participants"]),
            submissions=list(data["submissions"]),
            status=data.get("status") or TaskStatus.OPEN.value,
            publisher=data.get("publisher") or "",
            max_participants=data.get("max_participants") or 0,
            winner=data.get("winner") or "",
            winning_submission=data.get("winning_submission") or "",
            payout=data.get("payout") or 0,
            refund=data.get("refund") or 0,
            validation_window=data.get("validation_window") or 0,
        )

    @property
    def final(self) -> bool:
        return self.status in (TaskStatus.SETTLED, TaskStatus.EXPIRED, TaskStatus.CANCELLED)


@dataclass
class NetworkStatus:
    """``network_hash_rate`` carries validated submissions per hour (seed 000's name)."""

    active_tasks: int
    active_miners: int
    total_rewards_distributed: int
    network_hash_rate: float
    validated_per_hour: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkStatus:
        return cls(
            active_tasks=data["active_tasks"],
            active_miners=data["active_miners"],
            total_rewards_distributed=data["total_rewards_distributed"],
            network_hash_rate=float(data["network_hash_rate"]),
            validated_per_hour=float(data.get("validated_per_hour", data["network_hash_rate"])),
        )


@dataclass
class MinerStats:
    address: str
    reputation_score: int
    tasks_completed: int
    tasks_failed: int
    total_earnings: int
    success_rate: float
    specializations: list[TaskType]
    miner_id: str = ""
    skills: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinerStats:
        return cls(
            address=data["address"],
            reputation_score=data["reputation_score"],
            tasks_completed=data["tasks_completed"],
            tasks_failed=data["tasks_failed"],
            total_earnings=data["total_earnings"],
            success_rate=float(data["success_rate"]),
            specializations=[TaskType(spec) for spec in data["specializations"]],
            miner_id=data.get("miner_id") or "",
            skills=list(data.get("skills") or []),
        )


@dataclass
class MinerConfig:
    """``stake_amount`` is not sent: registering as a miner locks nothing. The SDK keeps
    it as this miner's most stake per task: auto-mining skips tasks that require more."""

    miner_id: str
    skills: list[str]
    specializations: list[TaskType]
    stake_amount: int
    contact_info: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["specializations"] = [TaskType(s).value for s in self.specializations]
        return data


@dataclass
class AutoMiningConfig:
    preferred_task_types: list[TaskType]
    preferred_difficulty: DifficultyLevel | None
    min_reward: int
    max_concurrent_tasks: int
    min_success_probability: float
    min_time_left: int  # seconds
    check_interval: float  # seconds
    auto_submit_solutions: bool
    ai_api_key: str | None = None


@dataclass
class TaskSolution:
    """What a miner submits. On the wire it is ``to_content()``: canonical JSON of
    ``to_dict()`` (sorted keys, no spaces, UTF-8), and ``content_hash`` its SHA-256."""

    content: str
    code: str | None = None
    documentation: str | None = None
    test_results: dict[str, Any] | None = None
    performance_metrics: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSolution:
        return cls(
            content=data["content"],
            code=data.get("code"),
            documentation=data.get("documentation"),
            test_results=data.get("test_results"),
            performance_metrics=data.get("performance_metrics"),
        )

    def to_content(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)  # fmt: skip

    @classmethod
    def from_content(cls, content: str) -> TaskSolution:
        return cls.from_dict(json.loads(content))

    def content_hash(self) -> str:
        return hashlib.sha256(self.to_content().encode("utf-8")).hexdigest()


@dataclass
class TaskSpec:
    """A task to publish (the ``task_publish`` kind's fields). ``deadline`` is a datetime
    (naive means local time) or a timedelta from now; ``reward_amount`` is escrowed at once.
    """

    title: str
    description: str
    task_type: TaskType
    difficulty: DifficultyLevel
    reward_amount: int
    deadline: datetime | timedelta
    stake_required: int = 0
    verification_type: VerificationType = VerificationType.PEER_REVIEW
    quality_threshold: int = 60
    max_participants: int = 10
    validation_window: timedelta = field(default_factory=lambda: timedelta(minutes=10))

    def deadline_ms(self, now: datetime | None = None) -> int:
        if isinstance(self.deadline, timedelta):
            return int(((now or datetime.now()) + self.deadline).timestamp() * 1000)
        return int(self.deadline.timestamp() * 1000)

    def to_fields(self) -> dict[str, Any]:
        """The ``task_publish`` body's own fields."""
        return {
            "title": self.title,
            "description": self.description,
            "task_type": TaskType(self.task_type),
            "difficulty": DifficultyLevel(self.difficulty),
            "reward_amount": self.reward_amount,
            "stake_required": self.stake_required,
            "deadline": self.deadline_ms(),
            "verification_type": VerificationType(self.verification_type),
            "quality_threshold": self.quality_threshold,
            "max_participants": self.max_participants,
            "validation_window": int(self.validation_window.total_seconds() * 1000),
        }
