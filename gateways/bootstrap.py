"""The composition root: the one place that wires nats-server, streams, sequencer,
projector and HTTP gateway into a node. Tests build nodes through it too."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nats
from aiohttp import web
from nats.aio.client import Client as NATS

from domain.handlers import create_chain
from domain.market import Market
from gateways.http.reads import ProjectionReads
from gateways.http.server import build_app
from projections import BatchProjectionRunner, ProjectionDB, open_projection_db
from streams import genesis as genesis_file
from streams.genesis import Genesis
from streams.jetstream import ensure_intake_stream, ensure_ledger_stream
from streams.keys import Keypair
from streams.keystore import Keystore
from streams.ledger_app import LedgerApplication
from streams.publisher import DecisionWaiters, IntakePublisher
from streams.sequencer_process import SequencerConfig, SequencerProcess
from streams.server import EmbeddedNatsServer, check_version, parse_version

log = logging.getLogger(__name__)

TREASURY_WALLET = "treasury"
STOP_STEP_S = 30.0  # the longest one part of the node may take to stop
GENESIS_WAIT_S = 60.0  # the longest a start waits for the projections to hold the chain


@dataclass
class NodeSettings:
    data_dir: Path
    nats_url: str | None = None  # None: start an embedded nats-server under data_dir
    http_host: str = "127.0.0.1"
    http_port: int = 8545
    dev: bool = False
    genesis_path: Path | None = None
    keystore_home: Path | None = None
    keystore_password: str = ""
    intake_stream: str = "INTAKE"
    ledger_stream: str = "LEDGER"


@dataclass
class Node:
    settings: NodeSettings
    server: EmbeddedNatsServer | None = None
    nc: NATS | None = None
    app: LedgerApplication | None = None
    sequencer: SequencerProcess | None = None
    reads: ProjectionReads | None = None
    db: ProjectionDB | None = None
    runner: BatchProjectionRunner | None = None
    http: web.AppRunner | None = None
    genesis: Genesis | None = None
    nats_url: str = ""
    http_url: str = ""

    async def start(self) -> Node:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats_url = s.nats_url or await asyncio.to_thread(self._start_embedded_server)
        self.nc = await nats.connect(self.nats_url, name="hiveledger-node", connect_timeout=5)
        check_version(parse_version(self.nc._server_info.get("version", "0.0.0")), self.nats_url)
        await ensure_intake_stream(self.nc, name=s.intake_stream)
        await ensure_ledger_stream(self.nc, name=s.ledger_stream)
        self.genesis = self._genesis()
        await asyncio.to_thread(self._start_ledger)
        await self._start_projections()
        await self._wait_genesis_projected()
        await self._start_http()
        (s.data_dir / "node.json").write_text(json.dumps({
            "chain_id": self.genesis.chain_id, "nats_url": self.nats_url,
            "http_url": self.http_url, "ledger_stream": s.ledger_stream,
        }, indent=2))  # fmt: skip
        log.info(
            "node up: chain %s, nats %s, http %s, data %s",
            self.genesis.chain_id,
            self.nats_url,
            self.http_url,
            s.data_dir,
        )
        return self

    def _start_embedded_server(self) -> str:
        self.server = EmbeddedNatsServer(self.settings.data_dir / "nats").start()
        return self.server.url

    def _genesis(self) -> Genesis:
        s = self.settings
        path = s.genesis_path or s.data_dir / "genesis.json"
        if path.exists():
            return genesis_file.load(path)
        if not s.dev:
            raise SystemExit(f"no genesis at {path}: pass --dev, or --genesis FILE")
        treasury = self._dev_treasury()
        genesis = genesis_file.dev_genesis(treasury)
        genesis_file.save(path, genesis)
        log.info("dev genesis written to %s: treasury %s", path, treasury)
        return genesis

    def _dev_treasury(self) -> str:
        s = self.settings
        store = Keystore(s.keystore_home) if s.keystore_home else Keystore()
        if store.exists(TREASURY_WALLET):
            return str(store.address_of(TREASURY_WALLET))
        keypair, words = Keypair.generate()
        store.create(TREASURY_WALLET, words, s.keystore_password)
        log.info(
            "dev treasury wallet %r created in the keystore: %s", TREASURY_WALLET, keypair.address
        )
        return keypair.address

    def _start_ledger(self) -> None:
        s, genesis = self.settings, self.genesis
        assert genesis is not None
        self.app = LedgerApplication(
            env={
                "PERSISTENCE_MODULE": "streams.persistence",
                "HIVELEDGER_NATS_URL": self.nats_url,
                "HIVELEDGER_LEDGER_STREAM": s.ledger_stream,
            }
        )
        if self.app.load_chain(genesis.chain_id) is None:
            book = create_chain(
                genesis.chain_id, genesis.treasury, genesis.allocations, self.app.load_wallet
            )
            self.app.record(book.changed.values())
            log.info("genesis of chain %s recorded", genesis.chain_id)
        if self.app.load_market(genesis.chain_id) is None:
            self.app.record([Market(chain_id=genesis.chain_id)])
        self.app.factory.close()
        self.app = None
        self.sequencer = SequencerProcess(SequencerConfig(
            nats_url=self.nats_url, chain_id=genesis.chain_id, intake_stream=s.intake_stream,
            ledger_stream=s.ledger_stream, log_level=logging.getLogger().getEffectiveLevel(),
        )).start()  # fmt: skip

    async def _start_projections(self) -> None:
        assert self.genesis is not None and self.nc is not None
        self.waiters = DecisionWaiters(asyncio.get_running_loop())
        path = self.settings.data_dir / "projections.duckdb"
        # One DuckDB thread: the other core belongs to the sequencer's process. DuckDB's
        # default (every core) starved it during big projection batches.
        self.db = await asyncio.to_thread(open_projection_db, path, threads=1)
        self.runner = BatchProjectionRunner(
            self.db,
            self.nc,
            stream=self.settings.ledger_stream,
            on_projected=lambda _seq, txids: self.waiters.resolve(txids),
        )
        await self.runner.start()
        self.reads = ProjectionReads(self.db, self.runner, self.genesis.chain_id)

    async def _wait_genesis_projected(self) -> None:
        """Open the doors once the chain can be read: every read and write needs it. The
        genesis is among the ledger's first messages, so even a rebuild reaches it soon."""
        assert self.reads is not None
        deadline = asyncio.get_running_loop().time() + GENESIS_WAIT_S
        while await asyncio.to_thread(self.reads.chain) is None:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("genesis not projected after %.0fs; serving anyway", GENESIS_WAIT_S)
                return
            await asyncio.sleep(0.05)

    async def _start_http(self) -> None:
        assert self.nc is not None and self.reads is not None and self.genesis is not None
        publisher = IntakePublisher(
            self.nc, self.genesis.chain_id, self.waiters, self.reads.decided_among
        )
        app = build_app(publisher, self.reads, self)
        self.http = web.AppRunner(app, access_log=None)
        await self.http.setup()
        site = web.TCPSite(self.http, self.settings.http_host, self.settings.http_port)
        await site.start()
        port = self.http.addresses[0][1] if self.http.addresses else self.settings.http_port
        self.http_url = f"http://{self.settings.http_host}:{port}"

    async def stop(self) -> None:
        """Stop every part in order; a part that fails to stop (its nats-server died
        under it, say) is logged and the rest still stop."""
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        if self.http is not None:
            steps.append(("http", self.http.cleanup))
        if self.sequencer is not None:
            steps.append(("sequencer", partial(asyncio.to_thread, self.sequencer.stop)))
        if self.runner is not None:
            steps.append(("projector", partial(self.runner.stop, timeout=5.0)))
        if self.db is not None:
            steps.append(("duckdb", partial(asyncio.to_thread, self.db.close)))
        if self.nc is not None:
            steps.append(("nats connection", self.nc.close))
        if self.server is not None:
            steps.append(("nats-server", partial(asyncio.to_thread, self.server.stop)))
        for name, stop in steps:
            try:
                await asyncio.wait_for(stop(), STOP_STEP_S)
            except Exception as error:  # keep stopping the rest
                log.warning("stopping the %s: %s: %s", name, type(error).__name__, error)
        log.info("node stopped")
