"""Measure open_envelope: transactions per second on 1 and 2 threads.

    .venv/bin/python tests/bench_envelope.py [--count 20000] [--signers 100]

Distinct signed transfers (each its own body; signers and recipients drawn from pools,
or every recipient new with --recipients 0) are opened exactly as the sequencer opens
them. Also printed: the rate of the bare libsodium verify on the same messages, and the
Python time per transaction outside it (which holds the GIL, so it is what limits
scaling across threads). Other processes on the machine skew the figures: run it idle.
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


def run(envelopes: list[bytes], threads: int) -> float:
    """Seconds to open all ``envelopes`` split evenly over ``threads`` threads."""
    chunks = [envelopes[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(chunk: list[bytes]) -> None:
        barrier.wait()
        for raw in chunk:
            open_envelope(raw, CHAIN)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def verify_only(envelopes: list[bytes]) -> float:
    """Seconds for libsodium's verify alone on the same messages (no parsing)."""
    prepared = []
    for raw in envelopes:
        opened = open_envelope(raw, CHAIN)
        sig = base64.b64decode(json.loads(raw)["signatures"][0]["sig"])
        signed = sig + pae(PAYLOAD_TYPE, opened.body_bytes)
        prepared.append((signed, len(signed), decode_address(opened.signer)))
    start = time.perf_counter()
    for signed, size, pk in prepared:
        lib.crypto_sign_open(ffi.NULL, ffi.NULL, signed, size, pk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--signers", type=int, default=100)
    parser.add_argument("--recipients", type=int, default=1000, help="0: a fresh one each")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    envelopes = make(args.count, args.signers, args.recipients)
    run(envelopes[:1000], 1)  # warm caches
    one = min(run(envelopes, 1) for _ in range(args.repeat))
    two = min(run(envelopes, 2) for _ in range(args.repeat))
    bare = min(verify_only(envelopes) for _ in range(args.repeat))
    n = len(envelopes)
    print(f"cpus: {os.cpu_count()}  envelopes: {n}  signers: {args.signers}  "
          f"recipients: {args.recipients or 'all fresh'}  best of {args.repeat}")  # fmt: skip
    print(f"open_envelope, 1 thread : {n / one:9.0f} tx/s  ({one / n * 1e6:6.1f} us/tx)")
    print(f"open_envelope, 2 threads: {n / two:9.0f} tx/s")
    print(f"libsodium verify alone  : {n / bare:9.0f} tx/s  ({bare / n * 1e6:6.1f} us/tx)")
    print(f"python work outside verify: {(one - bare) / n * 1e6:.1f} us/tx (holds the GIL)")


if __name__ == "__main__":
    main()
