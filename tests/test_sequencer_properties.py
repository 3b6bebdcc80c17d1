"""Property tests of the sequencer on the library's in-memory (POPO) persistence.

A hypothesis state machine publishes random intake traffic (valid transfers and mints,
mints by non-treasury signers, stale and gapped nonces, overdrafts, self transfers,
supply overflow, wrong chain ids, expired transactions, tampered signatures, garbage
bytes, and replays of earlier messages, pending or decided) and sequences it with random
batch cut points and restarts. A reference model decides every message independently,
in intake order, with plain dictionaries. After every step:

- the money in every wallet adds up to the chain's supply (genesis + mints), and no
  balance is negative;
- every balance, nonce and opened wallet equals the model's, in the store and in the
  application's wallet cache;
- every intake message up to the position is decided exactly once: one TxRecord (one
  event, version 1) per distinct id, with the model's status, code, signer, nonce,
  intake seq and the batch's clock; replays make none;
- a rejected transaction moves nothing: no wallet or chain event carries its id;
- the tracking position is the last intake seq taken, and the sequencer's counters
  (accepted, rejected, duplicates, retries) are the model's.

A second test runs the same traffic once in big batches (checked on two threads) and
again with random cut points and restarts, and finds every aggregate's history
identical. A third pins expiry to the batch clock, to the millisecond.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.chain import Chain
from domain.errors import ErrorCode
from domain.handlers import create_chain
from domain.money import MAX_AMOUNT
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from domain.wallet import Wallet
from gateways.sdk import transactions
from streams.intake import MemoryIntake, raw_id
from streams.keys import Keypair
from streams.ledger_app import LedgerApplication
from streams.sequencer import INTAKE_APPLICATION, Sequencer

CHAIN = "prop-chain"
KEYS = [Keypair.from_seed32(bytes([i + 1]) * 32) for i in range(4)]
TREASURY, USERS = KEYS[0], KEYS[1:]
OUTSIDER = Keypair.from_seed32(b"\x77" * 32).address  # receives, never signs
ADDRESSES = [k.address for k in KEYS] + [OUTSIDER]
GENESIS = {TREASURY.address: 1_000_000, USERS[0].address: 500}  # USERS[1:] start unopened
CREATED_AT = 500
CLOCK_START = 10_000  # expired: expires_at below this; valid: None or FAR_FUTURE
FAR_FUTURE = 10**13
DUPLICATE = "duplicate"
ENVELOPE_CODES = {
    c.code
    for c in (
        ErrorCode.ENVELOPE_MALFORMED,
        ErrorCode.PAYLOAD_TYPE_UNSUPPORTED,
        ErrorCode.SIGNATURE_INVALID,
        ErrorCode.SIGNER_MISMATCH,
        ErrorCode.BODY_TOO_LARGE,
        ErrorCode.BODY_MALFORMED,
        ErrorCode.KIND_UNKNOWN,
        ErrorCode.FIELD_MISSING,
        ErrorCode.FIELD_UNKNOWN,
        ErrorCode.FIELD_INVALID,
        ErrorCode.AMOUNT_INVALID,
        ErrorCode.ADDRESS_INVALID,
    )
}

keys = st.sampled_from(KEYS)
signers = st.sampled_from([TREASURY, TREASURY, *USERS])  # the treasury funds the others
users = st.sampled_from(USERS)
recipients = st.sampled_from(ADDRESSES)
kinds = st.sampled_from(["transfer", "mint"])
garbage = st.one_of(
    st.binary(max_size=48),
    st.sampled_from([b"", b"{}", b"[]", b"null", b'{"payloadType": 1}', b"\xff\xfe", b"{{{"]),
)


def new_ledger() -> LedgerApplication:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    book = create_chain(CHAIN, TREASURY.address, GENESIS, app.load_wallet)
    app.record(book.changed.values())
    return app


def sign(
    kind: str,
    signer: Keypair,
    to: str,
    amount: int,
    nonce: int,
    chain_id: str = CHAIN,
    expires_at: int | None = None,
) -> tuple[str, bytes]:
    if kind == "mint":
        assert expires_at is None
        return transactions.mint(
            signer, chain_id=chain_id, to=to, amount=amount, nonce=nonce, created_at=CREATED_AT
        )
    return transactions.transfer(
        signer,
        chain_id=chain_id,
        to=to,
        amount=amount,
        nonce=nonce,
        created_at=CREATED_AT,
        expires_at=expires_at,
    )


# -- the reference model ------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the model says becomes of one intake message."""

    seq: int
    txid: str
    status: str  # accepted | rejected | duplicate
    code: str = ""
    kind: str = ""
    signer: str = ""  # "" for a message refused before its signature vouched for it
    nonce: int = 0
    to: str = ""
    amount: int = 0


@dataclass
class Model:
    """Balances of opened wallets, last nonces, supply: dictionaries and integers."""

    balances: dict[str, int] = field(default_factory=lambda: dict(GENESIS))
    nonces: dict[str, int] = field(default_factory=dict)
    supply: int = sum(GENESIS.values())
    decided: set[str] = field(default_factory=set)

    def nonce(self, address: str) -> int:
        return self.nonces.get(address, 0)

    def next_nonce(self, address: str) -> int:
        return self.nonce(address) + 1

    def balance(self, address: str) -> int:
        return self.balances.get(address, 0)

    def refuse_signed(
        self, kind: str, signer: str, to: str, amount: int, nonce: int, expires_at: int | None
    ) -> str:
        """The rule that refuses a checked transaction, in the handlers' order, or ""."""
        if expires_at is not None and expires_at < CLOCK_START:
            return ErrorCode.EXPIRED.code
        if kind == "transfer":
            if to == signer:
                return ErrorCode.SELF_TRANSFER.code
        elif signer != TREASURY.address:
            return ErrorCode.NOT_TREASURY.code
        last = self.nonce(signer)
        if nonce <= last:
            return ErrorCode.NONCE_STALE.code
        if nonce > last + 1:
            return ErrorCode.NONCE_GAP.code
        if kind == "transfer" and (signer not in self.balances or self.balance(signer) < amount):
            return ErrorCode.INSUFFICIENT_FUNDS.code
        if kind == "mint" and self.supply + amount > MAX_AMOUNT:
            return ErrorCode.SUPPLY_OVERFLOW.code
        if self.balance(to) + amount > MAX_AMOUNT:
            return ErrorCode.BALANCE_OVERFLOW.code
        return ""

    def apply(self, d: Decision) -> None:
        if d.status == DUPLICATE:
            assert d.txid in self.decided
            return
        assert d.txid not in self.decided
        self.decided.add(d.txid)
        if d.status != ACCEPTED:
            return
        if d.kind == "transfer":
            self.balances[d.signer] -= d.amount
        else:
            self.balances.setdefault(d.signer, 0)  # the treasury's wallet records the nonce
            self.supply += d.amount
        self.nonces[d.signer] = d.nonce
        self.balances[d.to] = self.balance(d.to) + d.amount


# -- the state machine ----------------------------------------------------------------


class SequencerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = new_ledger()
        self.source = MemoryIntake()
        self.now = CLOCK_START
        self.sequencer = self._new_sequencer()
        self.ahead = Model()  # every message published so far, decided in intake order
        self.applied = Model()  # only the messages up to the sequencer's position
        self.decisions: dict[int, Decision] = {}
        self.batch_clock: dict[int, int] = {}
        self.accepted: set[str] = set()
        self.rejected: set[str] = set()
        # Per sequencer instance: what its stats must say, and what it decided before.
        self.expected_stats = {"accepted": 0, "rejected": 0, "duplicates": 0, "retries": 0}
        self.decided_before_instance: set[str] = set()
        # What the store holds, read incrementally from its notification log.
        self.scanned = 0
        self.records: set[str] = set()
        self.wallet_ids: set[str] = set()
        self.moved_by: set[str] = set()  # tx ids named by wallet and chain events
        self.checked_seq = 0

    def _new_sequencer(self) -> Sequencer:
        return Sequencer(self.app, self.source, CHAIN, clock=lambda: self.now, max_txs=8)

    # -- publishing ---------------------------------------------------------------------
    def _publish(self, data: bytes, kind: str, decision: Callable[[int], Decision]) -> None:
        seq = self.source.add(data, kind)
        d = decision(seq)
        self.decisions[seq] = d
        self.ahead.apply(d)

    def _publish_signed(
        self,
        kind: str,
        signer: Keypair,
        to: str,
        amount: int,
        nonce: int,
        expires_at: int | None = None,
    ) -> tuple[str, bytes]:
        txid, data = sign(kind, signer, to, amount, nonce, expires_at=expires_at)

        def decide(seq: int) -> Decision:
            if txid in self.ahead.decided:
                return Decision(seq, txid, DUPLICATE)
            code = self.ahead.refuse_signed(kind, signer.address, to, amount, nonce, expires_at)
            status = REJECTED if code else ACCEPTED
            return Decision(seq, txid, status, code, kind, signer.address, nonce, to, amount)

        self._publish(data, kind, decide)
        return txid, data

    def _publish_refused(self, data: bytes, kind: str, code: str | None) -> None:
        """Bytes refused before their signature vouches for them: an id of their own."""
        txid = raw_id(data)

        def decide(seq: int) -> Decision:
            if txid in self.ahead.decided:
                return Decision(seq, txid, DUPLICATE)
            return Decision(seq, txid, REJECTED, code or "", kind)

        self._publish(data, kind, decide)

    def _amount(self, signer: str, how: str, small: int) -> int:
        balance = self.ahead.balance(signer)
        if how == "all" and balance > 0:
            return balance
        if how == "over":
            return min(balance + 1, MAX_AMOUNT)
        return small

    @rule(
        signer=signers,
        picks=st.lists(st.integers(0, len(ADDRESSES) - 2), min_size=1, max_size=3),
        how=st.sampled_from(["small", "small", "small", "all", "over"]),
        small=st.integers(1, 5_000),
        expires=st.booleans(),
    )
    def transfer(
        self, signer: Keypair, picks: list[int], how: str, small: int, expires: bool
    ) -> None:
        """Transfers with the right nonces to others: accepted, or an overdraft."""
        for pick in picks:
            to = [a for a in ADDRESSES if a != signer.address][pick]
            amount = self._amount(signer.address, how, small)
            expires_at = FAR_FUTURE if expires else None
            nonce = self.ahead.next_nonce(signer.address)
            self._publish_signed("transfer", signer, to, amount, nonce, expires_at)

    @rule(signer=keys, amount=st.integers(1, 100))
    def self_transfer(self, signer: Keypair, amount: int) -> None:
        nonce = self.ahead.next_nonce(signer.address)
        self._publish_signed("transfer", signer, signer.address, amount, nonce)

    @rule(
        signer=st.sampled_from([TREASURY, TREASURY, TREASURY, USERS[0]]),
        to=recipients,
        small=st.integers(1, 10**6),
        size=st.sampled_from(["small", "small", "to the limit", "over the limit"]),
    )
    def mint(self, signer: Keypair, to: str, small: int, size: str) -> None:
        """A mint, by the treasury or not; some reach or pass the supply's limit."""
        room = MAX_AMOUNT - self.ahead.supply
        amount = {"small": small, "to the limit": room, "over the limit": room + 1}[size]
        amount = min(max(amount, 1), MAX_AMOUNT)
        self._publish_signed("mint", signer, to, amount, self.ahead.next_nonce(signer.address))

    @rule(
        signer=signers,
        to=recipients,
        kind=kinds,
        shift=st.sampled_from([-3, -1, -1, 1, 2, 10**6]),
        amount=st.integers(1, 100),
    )
    def bad_nonce(self, signer: Keypair, to: str, kind: str, shift: int, amount: int) -> None:
        """A stale nonce (already used) or a gapped one (skips ahead)."""
        nonce = self.ahead.next_nonce(signer.address) + shift
        if nonce < 1:  # a nonce is at least 1 on the wire: no stale nonce exists yet
            nonce = self.ahead.next_nonce(signer.address) + 1
        self._publish_signed(kind, signer, to, amount, nonce)

    @precondition(lambda self: any(self.ahead.nonces.values()))
    @rule(pick=st.integers(0, 10**6), kind=kinds, to=recipients)
    def stale_nonce(self, pick: int, kind: str, to: str) -> None:
        """A nonce this signer has already used (any of them, not just the last)."""
        used = [k for k in KEYS if self.ahead.nonce(k.address) > 0]
        signer = used[pick % len(used)]
        nonce = 1 + pick % self.ahead.nonce(signer.address)
        self._publish_signed(kind, signer, to, 1, nonce)

    @rule(
        signer=keys,
        to=recipients,
        amount=st.integers(1, 100),
        expires_at=st.integers(CREATED_AT + 1, CLOCK_START - 1),
    )
    def expired(self, signer: Keypair, to: str, amount: int, expires_at: int) -> None:
        nonce = self.ahead.next_nonce(signer.address)
        self._publish_signed("transfer", signer, to, amount, nonce, expires_at)

    @rule(signer=keys, to=recipients, kind=kinds, amount=st.integers(1, 100))
    def wrong_chain(self, signer: Keypair, to: str, kind: str, amount: int) -> None:
        nonce = self.ahead.next_nonce(signer.address)
        _, data = sign(kind, signer, to, amount, nonce, chain_id="another-chain")
        self._publish_refused(data, kind, ErrorCode.CHAIN_ID_WRONG.code)

    @rule(signer=users, to=recipients, amount=st.integers(1, 100), then_real=st.booleans())
    def tampered(self, signer: Keypair, to: str, amount: int, then_real: bool) -> None:
        """A copy with a broken signature is refused under its own id, so the real
        transaction, published after it, is still decided on its merits."""
        nonce = self.ahead.next_nonce(signer.address)
        _, data = sign("transfer", signer, to, amount, nonce)
        envelope = json.loads(data)
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[7] ^= 0x10
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
        broken = json.dumps(envelope, separators=(",", ":")).encode()
        self._publish_refused(broken, "transfer", ErrorCode.SIGNATURE_INVALID.code)
        if then_real:
            self._publish_signed("transfer", signer, to, amount, nonce)

    @rule(data=garbage, kind=st.sampled_from(["transfer", "mint", "x" * 80]))
    def garbage(self, data: bytes, kind: str) -> None:
        self._publish_refused(data, kind[:64], None)

    @precondition(lambda self: self.source.messages)
    @rule(pick=st.integers(0, 10**6), last=st.booleans())
    def replay(self, pick: int, last: bool) -> None:
        """An earlier message again: the last one (likely the same batch) or any, pending
        or already decided, before or after a restart."""
        messages = self.source.messages
        original = messages[-1] if last else messages[pick % len(messages)]
        first = self.decisions[original.seq]
        kind = original.subject.removeprefix("hive.intake.")
        self._publish(original.data, kind, lambda seq: Decision(seq, first.txid, DUPLICATE))

    # -- sequencing -----------------------------------------------------------------------
    @rule(limit=st.integers(1, 12), tick=st.integers(0, 1_000))
    def sequence(self, limit: int, tick: int) -> None:
        """One batch of at most ``limit`` messages, at a clock that moved on by ``tick``."""
        self.now += tick
        self.sequencer.max_txs = limit
        start = self.sequencer.position
        taken = self.sequencer.step(timeout=0)
        assert taken == min(limit, len(self.source.messages) - start)
        batch = [self.decisions[seq] for seq in range(start + 1, start + taken + 1)]
        if any(d.txid in self.decided_before_instance for d in batch):
            self.expected_stats["retries"] += 1  # the store refuses it; the retry skips it
        for d in batch:
            self.batch_clock[d.seq] = self.now
            self.applied.apply(d)
            if d.status == ACCEPTED:
                self.accepted.add(d.txid)
            elif d.status == REJECTED:
                self.rejected.add(d.txid)
            key = {ACCEPTED: "accepted", REJECTED: "rejected", DUPLICATE: "duplicates"}
            self.expected_stats[key[d.status]] += 1

    @rule()
    def restart(self) -> None:
        """A new sequencer on the same application: it forgets the ids it saw."""
        position = self.sequencer.position
        self.sequencer = self._new_sequencer()
        assert self.sequencer.position == position
        self.expected_stats = dict.fromkeys(self.expected_stats, 0)
        self.decided_before_instance = set(self.applied.decided)

    @precondition(lambda self: self.applied.decided)
    @rule(pick=st.integers(0, 10**6), signer=signers, to=recipients, amount=st.integers(1, 50))
    def restart_then_replay(self, pick: int, signer: Keypair, to: str, amount: int) -> None:
        """A restart, then a decided message again beside a fresh one: the new sequencer
        has not seen it, so the store refuses the batch and the retry must skip it."""
        self.restart()
        decided = self.source.messages[: self.sequencer.position]
        original = decided[pick % len(decided)]
        first = self.decisions[original.seq]
        kind = original.subject.removeprefix("hive.intake.")
        self._publish(original.data, kind, lambda seq: Decision(seq, first.txid, DUPLICATE))
        kind = "mint" if signer is TREASURY and pick % 2 else "transfer"
        nonce = self.ahead.next_nonce(signer.address)
        if signer.address != to:
            self._publish_signed(kind, signer, to, amount, nonce)

    # -- invariants -----------------------------------------------------------------------
    def _scan(self) -> None:
        """Read the store's new notifications: records, wallets, and what moved money."""
        recorder = self.app.recorder
        for note in recorder.select_notifications(start=self.scanned + 1, limit=100_000):
            event: Any = self.app.mapper.to_domain_event(note)
            oid = event.originator_id
            if oid.startswith("tx."):
                assert oid not in self.records, f"a second decision for {oid}"
                assert event.originator_version == 1
                self.records.add(oid)
            else:
                if oid.startswith("wallet."):
                    self.wallet_ids.add(oid)
                if hasattr(event, "tx"):
                    self.moved_by.add(event.tx)
            self.scanned = note.id

    @invariant()
    def position_is_the_last_intake_seq_taken(self) -> None:
        tracked = self.app.process_recorder.max_tracking_id(INTAKE_APPLICATION) or 0
        assert tracked == self.sequencer.position == self.sequencer.stats.position
        assert tracked == max(self.batch_clock, default=0)

    @invariant()
    def money_is_conserved_and_never_negative(self) -> None:
        self._scan()
        chain: Chain = self.app.repository.get(Chain.create_id(CHAIN))
        assert chain.supply == self.applied.supply
        wallets = [self.app.repository.get(wid) for wid in self.wallet_ids]
        assert sum(w.balance for w in wallets) == chain.supply
        assert all(w.balance >= 0 for w in wallets)

    @invariant()
    def every_wallet_matches_the_model(self) -> None:
        self._scan()
        assert self.wallet_ids == {Wallet.create_id(a) for a in self.applied.balances}
        for address in ADDRESSES:
            stored = self.app.get_or_none(Wallet.create_id(address))
            if address not in self.applied.balances:
                assert stored is None, f"{address} opened but the model has no wallet"
                continue
            expected = (self.applied.balance(address), self.applied.nonce(address))
            assert (stored.balance, stored.nonce) == expected
            hit, cached = self.app.cache.get(Wallet.create_id(address))
            if hit:  # the sequencer's cache is never ahead of, or behind, the store
                assert cached is not None and cached.version == stored.version
                assert (cached.balance, cached.nonce) == expected

    @invariant()
    def every_message_is_decided_exactly_once(self) -> None:
        self._scan()
        assert self.records == {TxRecord.create_id(t) for t in self.applied.decided}
        for seq in range(self.checked_seq + 1, self.sequencer.position + 1):
            d = self.decisions[seq]
            record: TxRecord = self.app.repository.get(TxRecord.create_id(d.txid))
            if d.status == DUPLICATE:
                assert record.intake_seq < seq, "a replay never replaces the first decision"
                continue
            assert (record.status, record.intake_seq) == (d.status, seq)
            assert (record.kind, record.signer, record.nonce) == (d.kind, d.signer, d.nonce)
            assert record.sequenced_at == self.batch_clock[seq]
            message = self.source.messages[seq - 1]
            assert base64.b64decode(record.envelope) == message.data
            if d.code:
                assert record.code == d.code and record.reason
            elif d.status == REJECTED:
                assert record.code in ENVELOPE_CODES and record.signer == ""
            else:
                assert record.code == "" and record.reason == ""
        self.checked_seq = self.sequencer.position

    @invariant()
    def rejected_transactions_move_nothing(self) -> None:
        self._scan()
        assert not self.rejected & self.moved_by
        assert self.accepted <= self.moved_by

    @invariant()
    def counters_match_the_model(self) -> None:
        stats = self.sequencer.stats
        counted = {
            "accepted": stats.accepted,
            "rejected": stats.rejected,
            "duplicates": stats.duplicates,
            "retries": stats.retries,
        }
        assert counted == self.expected_stats

    def teardown(self) -> None:
        """Sequence whatever is still pending, then check everything once more."""
        while self.sequencer.position < len(self.source.messages):
            self.sequence(limit=12, tick=1)
        self.position_is_the_last_intake_seq_taken()
        self.money_is_conserved_and_never_negative()
        self.every_wallet_matches_the_model()
        self.every_message_is_decided_exactly_once()
        self.rejected_transactions_move_nothing()
        self.counters_match_the_model()
        assert self.applied == self.ahead


TestSequencerMachine = SequencerMachine.TestCase
TestSequencerMachine.settings = settings(
    max_examples=60,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- batching and restarts change nothing ---------------------------------------------

traffic_item = st.one_of(
    st.tuples(
        st.just("signed"),
        kinds,
        st.integers(0, len(KEYS) - 1),
        recipients,
        st.integers(1, 2_000),
        st.sampled_from([0, 0, 0, 0, -1, 1]),
    ),
    st.tuples(st.just("garbage"), garbage),
    st.tuples(st.just("replay"), st.integers(0, 10**6)),
)


def build_traffic(items: list[tuple[Any, ...]]) -> list[tuple[bytes, str]]:
    """(data, kind) messages; nonces follow a per-signer counter, off by one at times."""
    nonces = {k.address: 0 for k in KEYS}
    out: list[tuple[bytes, str]] = []
    for item in items:
        if item[0] == "signed":
            _, kind, signer_index, to, amount, shift = item
            signer = KEYS[signer_index]
            if shift == 0:  # the next nonce, as an honest client would count
                nonces[signer.address] += 1
                nonce = nonces[signer.address]
            else:  # one already used, or one that skips ahead
                nonce = max(1, nonces[signer.address] + 1 + shift)
            out.append((sign(kind, signer, to, amount, nonce)[1], kind))
        elif item[0] == "garbage":
            out.append((item[1], "transfer"))
        elif out:
            out.append(out[item[1] % len(out)])
    return out


def histories(app: LedgerApplication) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
    """Every aggregate's events in version order, without the wall-clock timestamps."""
    found: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for note in app.recorder.select_notifications(start=1, limit=1_000_000):
        event = app.mapper.to_domain_event(note)
        state = {k: v for k, v in vars(event).items() if k != "timestamp"}
        found.setdefault(note.originator_id, []).append(
            (note.originator_version, note.topic, state)
        )
    return {oid: sorted(events, key=lambda e: e[0]) for oid, events in found.items()}


def run(
    traffic: list[tuple[bytes, str]],
    cuts: list[int],
    restarts: list[bool],
    pool: ThreadPoolExecutor | None = None,
) -> tuple[LedgerApplication, int]:
    """Sequence ``traffic`` in batches of ``cuts`` sizes, restarting the sequencer after
    batch i when ``restarts[i]`` (both cycled). Returns the app and the retries."""
    app, source = new_ledger(), MemoryIntake()
    for data, kind in traffic:
        source.add(data, kind)

    def new() -> Sequencer:
        return Sequencer(app, source, CHAIN, pool=pool, clock=lambda: CLOCK_START, max_txs=190)

    sequencer, retries, batch = new(), 0, 0
    while sequencer.position < len(traffic):
        sequencer.max_txs = cuts[batch % len(cuts)]
        assert sequencer.step(timeout=0) > 0
        if restarts[batch % len(restarts)]:
            retries += sequencer.stats.retries
            sequencer = new()
        batch += 1
    assert app.process_recorder.max_tracking_id(INTAKE_APPLICATION) == len(traffic)
    return app, retries + sequencer.stats.retries


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(traffic_item, min_size=10, max_size=60),
    cuts=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    restarts=st.lists(st.booleans(), min_size=1, max_size=6),
)
def test_batch_cuts_and_restarts_change_nothing(
    items: list[tuple[Any, ...]], cuts: list[int], restarts: list[bool]
) -> None:
    traffic = build_traffic(items)
    with ThreadPoolExecutor(2) as pool:  # big batches are checked on two threads
        reference, reference_retries = run(traffic, [190], [False], pool)
    assert reference_retries == 0, "one sequencer never needs the store to catch a replay"
    restarted, _ = run(traffic, cuts, restarts)
    assert histories(restarted) == histories(reference)


@settings(max_examples=30, deadline=None)
@given(clock=st.integers(CREATED_AT + 2, FAR_FUTURE), offset=st.sampled_from([-1, 0, 1]))
def test_expiry_is_decided_by_the_batch_clock_to_the_millisecond(clock: int, offset: int) -> None:
    """expires_at is the last millisecond a transaction may be sequenced at."""
    app, source = new_ledger(), MemoryIntake()
    txid, data = sign("transfer", TREASURY, USERS[1].address, 10, 1, expires_at=clock + offset)
    source.add(data, "transfer")
    Sequencer(app, source, CHAIN, clock=lambda: clock).step(timeout=0)
    record: TxRecord = app.repository.get(TxRecord.create_id(txid))
    assert record.sequenced_at == clock
    if offset < 0:
        assert (record.status, record.code) == (REJECTED, ErrorCode.EXPIRED.code)
        assert app.get_or_none(Wallet.create_id(USERS[1].address)) is None
    else:
        assert record.status == ACCEPTED
        assert app.repository.get(Wallet.create_id(USERS[1].address)).balance == 10
