"""The aiohttp application: REST, JSON-RPC, OpenAPI, metrics, errors as JSON."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from gateways.http import openapi, rest, rest_market, rpc
from gateways.http.errors import error_middleware
from gateways.http.market_api import GATEWAY, Gateway
from gateways.http.market_reads import MarketReads
from gateways.http.metrics import NodeCollector, exposition, registry_for
from gateways.http.ports import MarketReadsPort, Reads, Submitter
from gateways.http.reads import ProjectionReads
from streams.sequencer_state import SequencerStats

MAX_REQUEST_BYTES = 64 * 1024


class HasStats(Protocol):
    @property
    def stats(self) -> SequencerStats: ...

    @property
    def failure(self) -> object: ...


class HasSequencer(Protocol):
    sequencer: HasStats | None


def build_app(
    submitter: Submitter,
    reads: Reads,
    node: HasSequencer | None = None,
    market: MarketReadsPort | None = None,
) -> web.Application:
    """``market``: the marketplace's reads; by default over the same projection DB as
    ``reads`` (which must then be a ProjectionReads)."""
    if market is None:
        if not isinstance(reads, ProjectionReads):
            raise TypeError("pass market= when reads is not a ProjectionReads")
        market = MarketReads(reads.db, reads.chain_id)
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[rest.SUBMITTER] = submitter
    app[rest.READS] = reads
    app[GATEWAY] = Gateway(submitter, reads, market)
    rest.add_routes(app)
    rest_market.add_routes(app)
    rpc.add_routes(app)

    def stats() -> Any:
        return node.sequencer.stats if node is not None and node.sequencer is not None else None

    registry = registry_for(NodeCollector(stats, reads.position))

    def problems() -> list[str]:
        found = []
        sequencer = node.sequencer if node is not None else None
        if sequencer is not None and sequencer.failure is not None:
            found.append(f"sequencer stopped: {sequencer.failure}")
        runner = getattr(reads, "runner", None)
        if runner is not None and runner.error is not None:
            found.append(f"projector stopped: {runner.error!r}")
        return found

    app[rest.HEALTH] = problems

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=exposition(registry), content_type="text/plain")

    async def openapi_json(request: web.Request) -> web.Response:
        return rest.json_response(openapi.document(f"{request.scheme}://{request.host}"))

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_json)
    return app
