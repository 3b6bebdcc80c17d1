"""Measure the sequencer's "execute" stage alone: transfers run on aggregates in memory.

    .venv/bin/python tests/bench_domain.py [--count 20000] [--wallets 1000] [--profile]

Mirrors streams/sequencer.py's ``_decide`` without envelopes or storage: per batch of 190
a fresh Book over wallets held in a dict, ``domain.dispatch.execute`` per transfer, one
TxRecord per transfer, then the batch's events are collected (as the recorder would).
The first ``wallets`` transfers fund new wallets from the treasury (each opens one), the
rest move money between random funded wallets. Prints µs per transfer (best of
``--repeat`` runs, CPU time of this process) or, with --profile, the cProfile top 25.
Other processes on the machine skew the figures: compare runs side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.book import Book
from domain.commands import Transfer, TxContext
from domain.dispatch import execute
from domain.handlers import create_chain
from domain.transaction import ACCEPTED, TxRecord
from domain.wallet import Wallet

TREASURY = "hive1treasury"
BATCH = 190
ENVELOPE = "ZW52ZWxvcGU=" * 40  # about the size of a recorded envelope


def make_commands(count: int, wallets: int, seed: int = 1) -> list[Transfer]:
    rng = random.Random(seed)
    addresses = [f"hive1{hashlib.sha256(str(i).encode()).hexdigest()[:50]}" for i in range(wallets)]
    nonces = dict.fromkeys([TREASURY, *addresses], 0)
    commands = []
    for i in range(count):
        src, dst = (TREASURY, addresses[i]) if i < wallets else rng.sample(addresses, 2)
        amount = 10**12 if i < wallets else rng.randint(1, 1_000)
        nonces[src] += 1
        ctx = TxContext(txid=f"{i:064x}", signer=src, nonce=nonces[src], sequenced_at=1)
        commands.append(Transfer(ctx, to=dst, amount=amount))
    return commands


def run(commands: list[Transfer]) -> int:
    """Execute every command; returns how many events were triggered."""
    genesis = create_chain("bench", TREASURY, {TREASURY: 10**18}, lambda a: None)
    store: dict[str, Wallet] = {w.address: w for w in genesis.wallets()}
    for aggregate in genesis.changed.values():
        aggregate.collect_events()
    events = 0
    for start in range(0, len(commands), BATCH):
        book = Book(genesis.chain, store.get)
        batch = commands[start : start + BATCH]
        records = [decide(command, book, start + i) for i, command in enumerate(batch)]
        for aggregate in [*book.changed.values(), *records]:
            events += len(aggregate.collect_events())
        store.update((w.address, w) for w in book.wallets())
    return events


def decide(command: Transfer, book: Book, seq: int) -> TxRecord:
    execute(command, book)
    ctx = command.ctx
    return TxRecord(
        txid=ctx.txid, status=ACCEPTED, kind="transfer", signer=ctx.signer, nonce=ctx.nonce,
        envelope=ENVELOPE, intake_seq=seq, sequenced_at=ctx.sequenced_at,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--wallets", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    commands = make_commands(args.count, args.wallets)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run, commands)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    best = float("inf")
    for _ in range(args.repeat):
        started = time.process_time()
        events = run(commands)
        best = min(best, time.process_time() - started)
    print(f"{best / args.count * 1e6:.1f} µs per transfer ({events} events, best of {args.repeat})")


if __name__ == "__main__":
    main()
