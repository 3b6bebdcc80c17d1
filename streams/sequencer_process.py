"""The sequencer in a process of its own, so it has a GIL of its own.

On two cores the sequencer (checking, deciding, recording) and the projector (decoding,
DuckDB) each need most of a core; in one process they would take turns on one
interpreter lock. The child reads INTAKE (through its check stage, a process of its own:
streams/check_stage.py) and writes LEDGER, through NATS only; the parent sees its
counters through shared memory.

The child stops, between batches, when the parent asks through a pipe, when the pipe
closes (the parent is gone, even killed) or on SIGTERM (a service manager or ``timeout``
signals the node's whole process group). A pipe rather than a ``multiprocessing.Event``:
setting an Event waits for every process blocked on it to wake, so a child that had died
while waiting made the parent's stop hang for ever.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import signal
import threading
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from typing import Any

from streams.sequencer_state import SequencerStats

log = logging.getLogger(__name__)

STAT_FIELDS = [f.name for f in fields(SequencerStats) if f.name != "started_at"]
FAILED = len(STAT_FIELDS)  # one more slot: 1.0 once the child's loop ended with an error
PUBLISH_EVERY_S = 0.2


@dataclass(frozen=True)
class SequencerConfig:
    nats_url: str
    chain_id: str
    intake_stream: str = "INTAKE"
    ledger_stream: str = "LEDGER"
    log_level: int = logging.INFO


def _publish(stats: SequencerStats, shared: Any, failed: bool) -> None:
    for i, name in enumerate(STAT_FIELDS):
        shared[i] = float(getattr(stats, name))
    shared[FAILED] = 1.0 if failed else 0.0


def _wait_for_stop(conn: Connection, signalled: int, stopper: threading.Event) -> None:
    """Set ``stopper`` when the parent asks (anything sent), its end of the pipe closes, or
    a signal handler wrote to ``signalled`` (handlers take no locks: Event.set does)."""
    ready = mp_connection.wait([conn, signalled])
    if conn in ready:
        with contextlib.suppress(EOFError, OSError):
            conn.recv()
    stopper.set()


def _stop_on_signals() -> int:
    """SIGTERM (to the group, or to this process alone) asks for a stop: the returned
    descriptor becomes readable. A Ctrl-C reaches every process of the terminal's group;
    the node stops this one in order, through the pipe, between batches: SIGINT is
    ignored rather than a KeyboardInterrupt inside a batch."""
    signalled, wakeup = os.pipe()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: os.write(wakeup, b"."))
    return signalled


def _child(config: SequencerConfig, conn: Connection, shared: Any) -> None:
    """The child's main: build the sequencer on JetStream and run it until asked to stop."""
    signalled = _stop_on_signals()  # first: a signal during the imports below stops it too
    from streams.check_stage import ProcessFeed
    from streams.gc_tuning import settle_gc
    from streams.ledger_app import LedgerApplication
    from streams.sequencer import Sequencer

    logging.basicConfig(level=config.log_level, format="%(name)s[sequencer]: %(message)s")
    stopper = threading.Event()
    watcher = threading.Thread(
        target=_wait_for_stop, args=(conn, signalled, stopper), name="stop", daemon=True
    )
    watcher.start()
    app = LedgerApplication(env={
        "PERSISTENCE_MODULE": "streams.persistence",
        "HIVELEDGER_NATS_URL": config.nats_url,
        "HIVELEDGER_LEDGER_STREAM": config.ledger_stream,
    })  # fmt: skip
    feed = ProcessFeed(config.nats_url, config.chain_id, stream=config.intake_stream)
    done = threading.Event()
    sequencer = Sequencer(app, None, config.chain_id, feed=feed)
    settle_gc("sequencer")

    def report() -> None:
        while not done.wait(PUBLISH_EVERY_S):
            _publish(sequencer.stats, shared, False)

    reporter = threading.Thread(target=report, name="stats", daemon=True)
    reporter.start()
    try:
        sequencer.run(stopper)
    finally:
        done.set()
        reporter.join()  # its last publish must not land after the final one
        _publish(sequencer.stats, shared, sequencer.failure is not None)
        feed.close()
        app.factory.close()


class SequencerProcess:
    """Start, watch and stop the sequencer's child process."""

    def __init__(self, config: SequencerConfig) -> None:
        context = mp.get_context("spawn")  # never fork a process that runs event loops
        self._conn, child_conn = context.Pipe()
        self._child_conn: Connection | None = child_conn
        self._stopping = False
        # Without a lock: a child killed while holding one would hang every later read.
        # Each slot is one aligned double, written whole; a read may mix two publishes.
        self._shared: Any = context.RawArray("d", len(STAT_FIELDS) + 1)
        self._process = context.Process(
            target=_child, args=(config, child_conn, self._shared), name="hiveledger-sequencer",
            daemon=False,  # it starts the check stage's process (streams/check_stage.py)
        )  # fmt: skip

    def start(self) -> SequencerProcess:
        self._process.start()
        if self._child_conn is not None:  # the child has its copy: its EOF is ours to give
            self._child_conn.close()
            self._child_conn = None
        return self

    @property
    def stats(self) -> SequencerStats:
        values = list(self._shared)
        kwargs = {n: (values[i] if n.startswith("seconds") else int(values[i]))
                  for i, n in enumerate(STAT_FIELDS)}  # fmt: skip
        return SequencerStats(**kwargs)

    @property
    def failure(self) -> str | None:
        """Why the sequencer is not running, or None while it is."""
        if self._shared[FAILED] == 1.0:
            return "the sequencer's loop ended with an error: see the node's log"
        if self._process.exitcode is not None and not self._stopping:
            return f"the sequencer process exited with code {self._process.exitcode}"
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the child to stop after its batch, wait, and kill it if it does not."""
        self._stopping = True
        with contextlib.suppress(OSError):  # a child already gone closed its end
            self._conn.send(None)
        self._conn.close()
        if self._process.pid is None:
            return  # never started
        self._process.join(timeout)
        if self._process.is_alive():
            # SIGTERM would only ask again (the child takes it as a stop): SIGKILL.
            log.warning("sequencer did not stop in %.0fs; killing it", timeout)
            self._process.kill()
            self._process.join(5)
