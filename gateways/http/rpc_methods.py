"""The JSON-RPC methods (docs/MARKET_API.md): name -> parameters and operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateways.http import market_api as api
from gateways.http.market_api import Gateway
from gateways.http.market_params import (
    AddressParams,
    FraudQuery,
    ListTasksParams,
    MinerParams,
    MyTasksParams,
    NoParams,
    Params,
    TaskIdParams,
    TxidParams,
    WriteParams,
)

Operation = Callable[[Gateway, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    params: type[Params]
    run: Operation
    summary: str
    kind: str | None = None  # writes: the kind of transaction the envelope must hold


def _writer(kind: str | None) -> Operation:
    async def run(gw: Gateway, params: WriteParams) -> dict[str, Any]:
        return await api.write(gw, params, kind)

    return run


READS: dict[str, Method] = {
    "ai_getNetworkStatus": Method(
        NoParams, api.network_status, "NetworkStatus: active tasks and miners, rewards paid"
    ),
    "ai_getTaskDetails": Method(TaskIdParams, api.task_details, "TaskDetails of one task"),
    "ai_listActiveTasks": Method(
        ListTasksParams, api.list_active_tasks, "{tasks: [TaskSummary]}: open tasks, filtered"
    ),
    "ai_getMinerStats": Method(MinerParams, api.miner_stats, "MinerStats of a miner"),
    "ai_getMyTasks": Method(
        MyTasksParams, api.my_tasks, "{tasks: [TaskSummary]}: tasks joined or published"
    ),
    "ai_getValidatorInfo": Method(AddressParams, api.validator_info, "A validator's record"),
    "ai_listFraudAlerts": Method(FraudQuery, api.fraud_alerts, "{alerts: [...]}, newest first"),
    "ai_getBalance": Method(AddressParams, api.balance, "Balance and nonce of an address"),
    "ai_getTransaction": Method(TxidParams, api.transaction, "What became of a transaction"),
    "ai_getChainInfo": Method(NoParams, api.chain_info, "Chain id, treasury, supply, market"),
}

WRITE_KINDS: dict[str, str | None] = {
    "ai_publishTask": "task_publish",
    "ai_cancelTask": "task_cancel",
    "ai_registerMiner": "miner_register",
    "ai_participateTask": "task_join",
    "ai_submitSolution": "solution_submit",
    "ai_registerValidator": "validator_register",
    "ai_submitValidation": "vote",
    "ai_reportFraud": "fraud_report",
    "ai_confirmFraud": "fraud_confirm",
    "ai_transfer": "transfer",
    "ai_sendTransaction": None,
}

WRITES: dict[str, Method] = {
    name: Method(
        WriteParams,
        _writer(kind),
        f"Submit a signed {kind or 'any-kind'} envelope",
        kind,
    )
    for name, kind in WRITE_KINDS.items()
}

METHODS: dict[str, Method] = {**READS, **WRITES}
