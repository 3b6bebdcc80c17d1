"""Measure open_envelope: transactions per second on 1 and 2 threads.

    .venv/bin/python tests/bench_envelope.py [--count 20000] [--signers 100]

Distinct signed transfers (each its own body; signers and recipients drawn from pools,
or every recipient new with --recipients 0) are opened exactly as the sequencer opens
them. Also printed: CPU time per transaction, how many cores each run really got, and
the rate of the bare libsodium verify on the same messages (the part that releases the
GIL). Other processes on the machine skew the figures: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl._sodium import ffi, lib

from streams.address import decode_address, encode_address
from streams.envelope import PAYLOAD_TYPE, open_envelope, pae, sign_tx
from streams.keys import Keypair
from streams.wire import Transfer

CHAIN = "hive-bench"


def make(count: int, signers: int, recipients: int = 0) -> list[bytes]:
    """Signed transfers; ``recipients`` = 0 sends each to a fresh address (worst case)."""
    pool = [Keypair.from_seed32(i.to_bytes(32, "big")) for i in range(1, signers + 1)]
    payees = [encode_address(os.urandom(32)) for _ in range(recipients)]
    out = []
    for n in range(count):
        kp = pool[n % signers]
        body = Transfer(
            chain_id=CHAIN, signer=kp.address, nonce=n // signers + 1,
            created_at=1_700_000_000_000 + n,
            to=payees[n % recipients] if payees else encode_address(os.urandom(32)),
            amount=1 + n, memo="bench",
        )  # fmt: skip
        out.append(sign_tx(body, kp)[1])
    return out


def run(envelopes: list[bytes], threads: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the threads) to open all ``envelopes`` split evenly
    over ``threads`` threads. CPU/wall tells how many cores the run really got."""
    chunks = [envelopes[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)
    cpu = [0.0] * threads

    def work(index: int) -> None:
        barrier.wait()
        start = time.thread_time()
        for raw in chunks[index]:
            open_envelope(raw, CHAIN)
        cpu[index] = time.thread_time() - start

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start, sum(cpu)


def verify_only(envelopes: list[bytes]) -> float:
    """CPU seconds of libsodium's verify alone on the same messages (no parsing)."""
    prepared = []
    for raw in envelopes:
        opened = open_envelope(raw, CHAIN)
        sig = base64.b64decode(json.loads(raw)["signatures"][0]["sig"])
        signed = sig + pae(PAYLOAD_TYPE, opened.body_bytes)
        prepared.append((signed, len(signed), decode_address(opened.signer)))
    start = time.thread_time()
    for signed, size, pk in prepared:
        lib.crypto_sign_open(ffi.NULL, ffi.NULL, signed, size, pk)
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--signers", type=int, default=100)
    parser.add_argument("--recipients", type=int, default=1000, help="0: a fresh one each")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    envelopes = make(args.count, args.signers, args.recipients)
    run(envelopes[:1000], 1)  # warm caches
    one, one_cpu = min(run(envelopes, 1) for _ in range(args.repeat))
    two, two_cpu = min(run(envelopes, 2) for _ in range(args.repeat))
    bare = min(verify_only(envelopes) for _ in range(args.repeat))
    n = len(envelopes)
    print(f"cpus: {os.cpu_count()}  envelopes: {n}  signers: {args.signers}  "
          f"recipients: {args.recipients or 'all fresh'}  best of {args.repeat}")  # fmt: skip
    print(f"open_envelope, 1 thread : {n / one:7.0f} tx/s  {one_cpu / n * 1e6:6.1f} CPU us/tx  "
          f"cores used {one_cpu / one:.2f}")  # fmt: skip
    print(f"open_envelope, 2 threads: {n / two:7.0f} tx/s  {two_cpu / n * 1e6:6.1f} CPU us/tx  "
          f"cores used {two_cpu / two:.2f}")  # fmt: skip
    print(f"libsodium verify alone  : {n / bare:7.0f} tx/s  {bare / n * 1e6:6.1f} CPU us/tx")
    gil = max(one_cpu - bare, 0.0) / n
    projected = min(2 / (one_cpu / n), 1 / gil) if gil else 2 / (one_cpu / n)
    print(f"outside verify (holds the GIL): {gil * 1e6:.1f} CPU us/tx; two free cores "
          f"could do at most {projected:.0f} tx/s")  # fmt: skip
    print("(cores used < threads: other processes had the CPU, or threads waited on the GIL)")


if __name__ == "__main__":
    main()
