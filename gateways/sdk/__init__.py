"""hiveledger's Python SDK: seed 000's async client, signing locally. See docs/SDK.md.

    from gateways.sdk import HiveClient, MinerConfig, TaskType

The names are loaded on first use, so ``from gateways.sdk import transactions`` (the
CLI's path) does not pull in aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "HiveClient": "client",
    "TOSAIClient": "client",
    "DEFAULT_RPC_URL": "client",
    "AIError": "errors",
    "AIRPCError": "errors",
    "AIValidationError": "errors",
    "AIMiner": "miner",
    "AIValidator": "validator",
    "TaskPublisher": "publisher",
    "Solver": "solvers",
    "summary_solver": "solvers",
    "echo_solver": "solvers",
    "AutoMiningConfig": "types",
    "DifficultyLevel": "types",
    "FraudKind": "types",
    "MinerConfig": "types",
    "MinerStats": "types",
    "NetworkStatus": "types",
    "TaskDetails": "types",
    "TaskFilters": "types",
    "TaskSolution": "types",
    "TaskSpec": "types",
    "TaskStatus": "types",
    "TaskSummary": "types",
    "TaskType": "types",
    "VerificationType": "types",
}

__all__ = [
    "DEFAULT_RPC_URL",
    "AIError",
    "AIMiner",
    "AIRPCError",
    "AIValidationError",
    "AIValidator",
    "AutoMiningConfig",
    "DifficultyLevel",
    "FraudKind",
    "HiveClient",
    "MinerConfig",
    "MinerStats",
    "NetworkStatus",
    "Solver",
    "TOSAIClient",
    "TaskDetails",
    "TaskFilters",
    "TaskPublisher",
    "TaskSolution",
    "TaskSpec",
    "TaskStatus",
    "TaskSummary",
    "TaskType",
    "VerificationType",
    "echo_solver",
    "summary_solver",
]

if TYPE_CHECKING:
    from gateways.sdk.client import DEFAULT_RPC_URL, HiveClient, TOSAIClient
    from gateways.sdk.errors import AIError, AIRPCError, AIValidationError
    from gateways.sdk.miner import AIMiner
    from gateways.sdk.publisher import TaskPublisher
    from gateways.sdk.solvers import Solver, echo_solver, summary_solver
    from gateways.sdk.types import (
        AutoMiningConfig,
        DifficultyLevel,
        FraudKind,
        MinerConfig,
        MinerStats,
        NetworkStatus,
        TaskDetails,
        TaskFilters,
        TaskSolution,
        TaskSpec,
        TaskStatus,
        TaskSummary,
        TaskType,
        VerificationType,
    )
    from gateways.sdk.validator import AIValidator


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
