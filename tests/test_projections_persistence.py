"""The projections read what the real persistence module (streams.persistence) writes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import nats
from eventsourcing.persistence import Tracking

from domain.book import Book
from domain.commands import Transfer, TxContext
from domain.dispatch import execute
from domain.handlers import create_chain
from domain.money import UNIT
from domain.transaction import ACCEPTED, TxRecord
from domain.wallet import Wallet
from projections import BatchProjectionRunner, open_projection_db
from projections.sample import envelope_for
from streams.ledger_app import LedgerApplication
from streams.server import EmbeddedNatsServer

TREASURY = "hive1treasury"


def write_ledger(url: str, stream: str, prefix: str) -> tuple[dict[str, Wallet], int]:
    """Genesis and 30 transfers saved by the ledger application on JetStream, each transfer
    with an intake tracking record, as the sequencer saves them."""
    app = LedgerApplication(
        env={
            "PERSISTENCE_MODULE": "streams.persistence",
            "HIVELEDGER_NATS_URL": url,
            "HIVELEDGER_LEDGER_STREAM": stream,
            "HIVELEDGER_LEDGER_PREFIX": prefix,
        }
    )
    try:
        genesis = create_chain("dev", TREASURY, {TREASURY: 1000 * UNIT}, lambda a: None)
        app.save(*genesis.changed.values())
        wallets = {w.address: w for w in genesis.wallets()}
        for nonce in range(1, 31):
            to = f"hive1w{nonce % 4}"
            body = {
                "kind": "transfer",
                "signer": TREASURY,
                "nonce": nonce,
                "to": to,
                "amount": nonce * UNIT,
                "memo": f"n{nonce}",
            }
            txid = f"{nonce:064x}"
            book = Book(genesis.chain, wallets.get)
            execute(
                Transfer(
                    TxContext(txid, TREASURY, nonce, 1000 + nonce),
                    to=to,
                    amount=nonce * UNIT,
                    memo=f"n{nonce}",
                ),
                book,
            )
            record = TxRecord(
                txid=txid,
                status=ACCEPTED,
                kind="transfer",
                signer=TREASURY,
                nonce=nonce,
                envelope=envelope_for(body),
                intake_seq=nonce,
                sequenced_at=1000 + nonce,
            )
            app.recorder.insert_events(
                [
                    app.mapper.to_stored_event(e)
                    for a in (*book.changed.values(), record)
                    for e in a.collect_events()
                ],
                tracking=Tracking("Intake", nonce),  # a _tracking record ends each batch
            )
            wallets.update({w.address: w for w in book.wallets()})
        return wallets, app.recorder.max_notification_id() or 0
    finally:
        app.close()


async def test_projects_a_ledger_written_by_streams_persistence(
    nats_server: EmbeddedNatsServer, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"LEDGER_P{tag}", f"p{tag}.ledger"
    wallets, last_event = await asyncio.to_thread(write_ledger, nats_server.url, stream, prefix)
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info(stream)
        last = info.state.last_seq
        with open_projection_db(tmp_path / "p.duckdb") as db:
            runner = BatchProjectionRunner(db, nc, stream=stream, prefix=prefix, batch_size=25)
            await runner.start()
            assert await runner.wait_for(last, timeout=30), runner.error
            await runner.stop()
            with db.cursor() as con:
                got = dict(con.execute("SELECT address, balance FROM wallets").fetchall())
                assert got == {a: w.balance for a, w in wallets.items()}
                assert con.execute("SELECT max(seq) FROM events").fetchone() == (last_event,)
                assert con.execute("SELECT count(*), sum(amount) FROM transfers").fetchone() == (
                    30,
                    sum(range(1, 31)) * UNIT,
                )
                (commits,) = con.execute("SELECT count(*) FROM commits").fetchone() or (0,)
                assert commits == 31  # genesis + one atomic batch per transfer
    finally:
        await nc.jetstream().delete_stream(stream)
        await nc.close()
