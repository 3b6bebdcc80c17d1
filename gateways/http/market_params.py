"""The parameters of the marketplace's reads and writes, shared by JSON-RPC and REST.

Each is a strict msgspec Struct: an unknown field, a missing one or a value of the wrong
type is refused (JSON-RPC: -32602 invalid params; REST: 400 bad_request) before anything
touches the projections or INTAKE.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from domain.market_types import DifficultyLevel, TaskType

Hash = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$", description="64 lowercase hex digits")]
Units = Annotated[int, Meta(ge=0, le=2**63 - 1, description="integer units (10^-9 token)")]
UnixSeconds = Annotated[int, Meta(ge=0, le=2**53, description="unix seconds")]
Limit = Annotated[int, Meta(ge=1, le=1000, description="at most this many rows")]
WaitSeconds = Annotated[float, Meta(gt=0, le=60, description="seconds to wait for the outcome")]

DEFAULT_LIMIT = 100
TaskStatusFilter = Literal["open", "validating", "settled", "expired", "cancelled", "all"]


class Params(Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every method's parameters."""


class NoParams(Params, frozen=True):
    pass


class TaskFilters(Params, frozen=True):
    """Seed 000's TaskFilters, plus ``limit``. ``deadline_before`` is unix seconds."""

    task_type: TaskType | None = None
    difficulty: DifficultyLevel | None = None
    min_reward: Units | None = None
    max_reward: Units | None = None
    deadline_before: UnixSeconds | None = None
    limit: Limit = DEFAULT_LIMIT


class TaskQuery(TaskFilters, frozen=True):
    """GET /v1/tasks: the filters and a status (``open`` unless told; ``all`` for any)."""

    status: TaskStatusFilter = "open"


class ListTasksParams(Params, frozen=True):
    filters: TaskFilters | None = None


class TaskIdParams(Params, frozen=True):
    task_id: Hash


class TxidParams(Params, frozen=True):
    txid: Hash


class MinerParams(Params, frozen=True):
    miner_address: str


class AddressParams(Params, frozen=True):
    address: str


class MyTasksParams(Params, frozen=True):
    address: str
    limit: Limit = DEFAULT_LIMIT


class FraudQuery(Params, frozen=True):
    status: Literal["open", "confirmed"] | None = None
    accused: str | None = None
    task_id: Hash | None = None
    limit: Limit = DEFAULT_LIMIT


class WriteParams(Params, frozen=True):
    """A signed DSSE envelope (a JSON object, or that object as a string) and whether to
    wait for the sequencer's decision. The object's bytes are passed on as received."""

    envelope: msgspec.Raw
    wait: bool = True
    timeout: WaitSeconds = 10.0


def describe(error: msgspec.ValidationError | msgspec.DecodeError) -> str:
    """msgspec's message, without its backquotes."""
    return str(error).replace("`", "")
