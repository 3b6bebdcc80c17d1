"""The auditor's replay: read LEDGER from its first message, check the hash chain, rebuild
every aggregate from its events, re-verify every accepted transaction's signature, and
check conservation and non-negative balances at every commit. Optionally compare the
result with a node's projections."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from nats.aio.client import Client as NATS

from domain.chain import Chain
from domain.errors import LedgerError
from domain.market import Market
from domain.transaction import ACCEPTED, TxRecord
from domain.wallet import Wallet
from streams.commit_chain import COMMIT_HEADER, TOPIC_HEADER, VERSION_HEADER, ChainVerifier
from streams.envelope import open_envelope
from streams.jetstream import iter_stream
from streams.subjects import is_reserved, originator_id_of


class AuditFailure(Exception):
    """The ledger breaks a rule at ``seq``."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit failed at stream sequence {seq}: {reason}")
        self.seq = seq
        self.reason = reason


@dataclass
class AuditReport:
    ledger_seq: int = 0
    commits: int = 0
    events: int = 0
    chain_head: str = ""
    chain_id: str = ""
    supply: int = 0
    wallets_total: int = 0
    locked: int = 0
    wallets: int = 0
    accepted: int = 0
    rejected: int = 0
    signatures_verified: int = 0
    conservation_checks: int = 0
    balances: dict[str, int] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("balances")
        return out


def _mapper() -> Mapper[str]:
    """The same transcodings an eventsourcing Application registers by default."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


class Replay:
    """Folds events into aggregates and keeps the running totals conservation needs."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.mapper = _mapper()
        self.aggregates: dict[str, Any] = {}
        self.report = AuditReport()
        self.chain: Chain | None = None
        self.market_locked = 0

    def apply(self, seq: int, subject: str, headers: Any, data: bytes) -> None:
        originator_id = originator_id_of(self.prefix, subject)
        stored = StoredEvent(
            originator_id=originator_id,
            originator_version=int(headers[VERSION_HEADER]),
            topic=headers[TOPIC_HEADER],
            state=data,
        )
        event = self.mapper.to_domain_event(stored)
        before = self.aggregates.get(str(originator_id))
        old_balance = before.balance if isinstance(before, Wallet) else 0
        after = event.mutate(before)
        self.aggregates[str(originator_id)] = after
        self.report.events += 1
        if isinstance(after, Wallet):
            if after.balance < 0:
                raise AuditFailure(seq, f"negative balance on {after.address}")
            self.report.wallets_total += after.balance - old_balance
        elif isinstance(after, Market):
            self.market_locked = after.locked
        elif isinstance(after, Chain):
            self.chain = after
        elif isinstance(after, TxRecord):
            self._check_record(seq, after)

    def _check_record(self, seq: int, record: TxRecord) -> None:
        if record.status != ACCEPTED:
            self.report.rejected += 1
            return
        self.report.accepted += 1
        assert self.chain is not None
        try:
            opened = open_envelope(base64.b64decode(record.envelope), self.chain.chain_id)
        except LedgerError as error:
            raise AuditFailure(seq, f"accepted {record.txid} does not verify: {error}") from None
        if opened.txid != record.txid or opened.body.signer != record.signer:
            raise AuditFailure(seq, f"record {record.txid} does not match its envelope")
        self.report.signatures_verified += 1

    def at_commit(self, seq: int) -> None:
        if self.chain is None:
            return
        held = self.report.wallets_total + self.market_locked
        if held != self.chain.supply:
            raise AuditFailure(
                seq, f"wallets {self.report.wallets_total} + locked {self.market_locked} "
                f"!= supply {self.chain.supply}",
            )  # fmt: skip
        self.report.conservation_checks += 1


async def audit_stream(
    nc: NATS, stream: str = "LEDGER", prefix: str = "hive.ledger",
    progress: Callable[[int], None] = lambda _: None,
) -> AuditReport:  # fmt: skip
    verifier = ChainVerifier(prefix)
    replay = Replay(prefix)
    async for msg in iter_stream(nc, stream, f"{prefix}.>"):
        verifier.feed(msg)
        if not is_reserved(prefix, msg.subject):
            replay.apply(msg.seq, msg.subject, msg.headers, msg.data)
        if COMMIT_HEADER in msg.headers:
            replay.at_commit(msg.seq)
        replay.report.ledger_seq = msg.seq
        progress(1)
    state = verifier.finish()
    report = replay.report
    report.commits, report.chain_head = state.commits, state.hash.hex()
    if replay.chain is not None:
        report.chain_id, report.supply = replay.chain.chain_id, replay.chain.supply
    report.locked = replay.market_locked
    wallets = [a for a in replay.aggregates.values() if isinstance(a, Wallet)]
    report.wallets = len(wallets)
    report.balances = {w.address: w.balance for w in wallets}
    return report
