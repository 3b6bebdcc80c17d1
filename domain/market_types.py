"""The task marketplace's vocabulary (seed 000), as plain string enums."""

from __future__ import annotations

from enum import StrEnum


class TaskType(StrEnum):
    CODE_ANALYSIS = "code_analysis"
    SECURITY_AUDIT = "security_audit"
    DATA_ANALYSIS = "data_analysis"
    ALGORITHM_OPTIMIZATION = "algorithm_optimization"
    LOGIC_REASONING = "logic_reasoning"
    GENERAL_TASK = "general_task"


class DifficultyLevel(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    EXPERT = "expert"


class VerificationType(StrEnum):
    AUTOMATIC = "automatic"
    PEER_REVIEW = "peer_review"
    EXPERT_REVIEW = "expert_review"
    HYBRID = "hybrid"


class TaskStatus(StrEnum):
    OPEN = "open"  # takes joins and submissions until the deadline
    VALIDATING = "validating"  # deadline passed with submissions: votes until settlement
    SETTLED = "settled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class FraudKind(StrEnum):
    PLAGIARISM = "plagiarism"
    DUPLICATE_SUBMISSION = "duplicate_submission"
    COLLUSION = "collusion"
    INVALID_VOTE = "invalid_vote"
    OTHER = "other"


FINAL = frozenset({TaskStatus.SETTLED, TaskStatus.EXPIRED, TaskStatus.CANCELLED})
