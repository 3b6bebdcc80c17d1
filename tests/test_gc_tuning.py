"""settle_gc: what a node's processes call once they have loaded their state."""

from __future__ import annotations

import gc

from streams.gc_tuning import YOUNG_THRESHOLD, settle_gc


def test_settle_gc_freezes_what_is_alive_and_spaces_young_collections() -> None:
    before = gc.get_threshold()
    kept = [{"wallet": i} for i in range(1000)]  # state a stage loaded at start
    try:
        settle_gc("test")
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert not any(gc.is_tracked(x) and x in gc.get_objects(0) for x in kept[:3])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
