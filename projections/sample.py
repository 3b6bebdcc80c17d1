"""A ledger made with the real domain, in the LEDGER wire format: for tests and benchmarks.

Genesis, then transfers and mints (some refused) run through domain/handlers.py on
eventsourcing aggregates; each event goes through the library's Mapper (JSONTranscoder)
exactly as the persistence module stores it. The expected figures are read from the
aggregates themselves, so the views are checked against the domain, not against a copy
of the projection's arithmetic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from domain.base import LedgerAggregate
from domain.book import Book
from domain.chain import Chain
from domain.commands import Mint, Transfer, TxContext
from domain.dispatch import execute
from domain.errors import LedgerError
from domain.handlers import create_chain
from domain.money import UNIT
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from domain.wallet import Wallet
from projections.records import COMMIT_HEADER, TOPIC_HEADER, VERSION_HEADER

Message = tuple[str, bytes, dict[str, str]]


def envelope_for(body: dict[str, Any]) -> str:
    """A DSSE-shaped envelope, base64 of its JSON (unsigned: projections never verify)."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    envelope = {
        "payloadType": "application/vnd.hiveledger.tx+json",
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": body["signer"], "sig": base64.b64encode(b"x" * 64).decode()}],
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


@dataclass
class SampleLedger:
    """Builds the ledger tx by tx; ``messages`` is what a LEDGER stream would hold."""

    prefix: str = "hive.ledger"
    chain_id: str = "dev"
    treasury: str = "hive1treasury"
    messages: list[Message] = field(default_factory=list)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    records: dict[str, TxRecord] = field(default_factory=dict)
    chain: Chain | None = None
    _app: Application[str] = field(
        default_factory=lambda: Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    )
    _prev: str = "0" * 64
    _clock: int = 1_700_000_000_000

    def genesis(self, allocations: dict[str, int]) -> None:
        book = create_chain(self.chain_id, self.treasury, allocations, lambda a: None)
        self.chain = book.chain
        self._commit(list(book.changed.values()))
        self.wallets.update({w.address: w for w in book.wallets()})

    def submit(self, kind: str, signer: str, to: str, amount: Any, memo: str = "") -> TxRecord:
        """Decide one transaction (transfer or mint) and record its events."""
        assert self.chain is not None, "genesis first"
        wallet = self.wallets.get(signer)
        nonce = (wallet.nonce if wallet else 0) + 1
        self._clock += 7
        body = {
            "chain_id": self.chain_id,
            "kind": kind,
            "signer": signer,
            "nonce": nonce,
            "created_at": self._clock,
            "to": to,
            "amount": amount,
            "memo": memo,
        }
        txid = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        ctx = TxContext(txid=txid, signer=signer, nonce=nonce, sequenced_at=self._clock)
        command = (Transfer if kind == "transfer" else Mint)(ctx, to=to, amount=amount, memo=memo)
        book = Book(self.chain, self.wallets.get)
        status, code, reason = ACCEPTED, "", ""
        try:
            execute(command, book)
        except LedgerError as err:
            status, code, reason = REJECTED, err.code, err.reason
            book.changed.clear()
        record = TxRecord(
            txid=txid,
            status=status,
            kind=kind,
            signer=signer,
            nonce=nonce,
            envelope=envelope_for(body),
            intake_seq=len(self.records) + 1,
            sequenced_at=self._clock,
            code=code,
            reason=reason,
        )
        self.records[txid] = record
        for aggregate in book.changed.values():
            if isinstance(aggregate, Wallet):
                self.wallets[aggregate.address] = aggregate
        self._commit([*book.changed.values(), record])
        return record

    def _commit(self, aggregates: list[LedgerAggregate]) -> None:
        """One atomic batch: the aggregates' new events, a commit record on the last."""
        tracking = {"application_name": "intake", "notification_id": len(self.messages) + 1}
        self._prev = append_batch(
            self.messages, self._app.mapper, self.prefix, aggregates, self._prev,
            self._clock, tracking,
        )  # fmt: skip


def append_batch(
    messages: list[Message],
    mapper: Mapper[str],
    prefix: str,
    aggregates: list[LedgerAggregate],
    prev: str,
    time: int,
    tracking: dict[str, Any] | None = None,
) -> str:
    """Append the aggregates' new events to ``messages`` as one batch whose last message
    carries a commit record (a sample's simplified chain: SHA-256 over ``prev`` and the
    states); return the new chain hash (``prev`` when there were no events)."""
    first = len(messages) + 1
    digest = hashlib.sha256(prev.encode())
    for aggregate in aggregates:
        for event in aggregate.collect_events():
            stored = mapper.to_stored_event(event)
            version = str(stored.originator_version)
            headers = {TOPIC_HEADER: stored.topic, VERSION_HEADER: version}
            messages.append((f"{prefix}.{stored.originator_id}", stored.state, headers))
            digest.update(stored.state)
    if len(messages) < first:
        return prev
    record: dict[str, Any] = {
        "prev": prev,
        "hash": digest.hexdigest(),
        "first_seq": first,
        "count": len(messages) - first + 1,
        "last_event": len(messages),
    }
    if tracking is not None:
        record["tracking"] = tracking
    record["time"] = time
    messages[-1][2][COMMIT_HEADER] = json.dumps(record)
    return str(record["hash"])


def build_sample(
    transactions: int,
    *,
    wallets: int = 20,
    seed: int = 7,
    prefix: str = "hive.ledger",
    min_messages: int = 0,
) -> SampleLedger:
    """Genesis for a few wallets, then ``transactions`` random transfers and mints (more,
    until there are ``min_messages`` messages), a share of them refused (nonce, funds,
    self transfer, non-treasury mint)."""
    rng = random.Random(seed)
    ledger = SampleLedger(prefix=prefix)
    addresses = [f"hive1w{i:04d}" for i in range(wallets)]
    ledger.genesis({ledger.treasury: 1_000_000 * UNIT, addresses[0]: 500 * UNIT})
    done = 0
    while done < transactions or len(ledger.messages) < min_messages:
        done += 1
        roll = rng.random()
        to = rng.choice(addresses)
        if roll < 0.05:
            ledger.submit("mint", ledger.treasury, to, rng.randint(1, 50) * UNIT, "mint")
        elif roll < 0.08:
            ledger.submit("mint", rng.choice(addresses), to, UNIT)  # not the treasury
        else:
            signer = rng.choice([ledger.treasury, *addresses])
            amount = rng.randint(1, 40) * UNIT // rng.choice([1, 10, 1000])
            ledger.submit("transfer", signer, to, amount, f"memo {rng.randint(0, 99)}")
    return ledger


def chunks(items: list[Message], size: int) -> Iterator[list[Message]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
