"""The garbage collector, tuned for a long-running stage that allocates per message.

CPython's default collector runs a young collection every 700 new container objects and
a full one every few hundred young ones, and each full collection walks every object the
process holds. A node's stages allocate several objects per transaction (events, frames,
records) that live for one batch: with the defaults, each batch's objects survive a young
collection or two on their way out, and the full collections keep walking the modules,
the aggregates and the client state loaded at start. Measured on the sequencer alone
(``gateways.bench.sequencer_only``, 30,000 transfers): ~16 µs of collection a transfer
with the defaults, ~2.5 with ``settle_gc`` (docs/BENCHMARKS.md).

``settle_gc`` is called once a process has loaded what it keeps: it moves everything
alive then out of the collector's sight (``gc.freeze``) and collects the young
generation every ``YOUNG_THRESHOLD`` allocations instead of 700. Reference counting still
frees everything acyclic at once. Cyclic garbage is found later: young cycles at the next
young collection, older ones at the older generations' collections, which come as often
as before relative to young ones. A cycle among the frozen start-up objects is never
collected; that is at most what the process held at start (docs/DECISIONS.md).

At exit everything is unfrozen again, so the interpreter's last collection frees it: an
extension that counts its objects at shutdown (DuckDB's bindings do) would otherwise
report the frozen ones as leaked.
"""

from __future__ import annotations

import atexit
import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 20_000  # container allocations between young collections (CPython: 700)


def settle_gc(where: str) -> None:
    """Freeze what the process holds now and space out young collections."""
    gc.collect()
    gc.freeze()
    atexit.unregister(gc.unfreeze)  # once, however often this is called
    atexit.register(gc.unfreeze)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    log.debug("%s: %d objects frozen out of garbage collection", where, gc.get_freeze_count())
