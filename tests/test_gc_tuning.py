"""settle_gc: what a node's processes call once they have loaded their state."""

from __future__ import annotations

import gc
import subprocess
import sys

from streams.gc_tuning import YOUNG_THRESHOLD, settle_gc


def test_settle_gc_freezes_what_is_alive_and_spaces_young_collections() -> None:
    before = gc.get_threshold()
    kept = [{"wallet": [i]} for i in range(1000)]  # state a stage loaded at start
    assert all(gc.is_tracked(x) for x in kept)
    try:
        settle_gc("test")
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        seen = {id(x) for generation in range(3) for x in gc.get_objects(generation)}
        assert not any(id(x) in seen for x in kept), "frozen objects are out of every generation"
        gc.unfreeze()
        seen = {id(x) for x in gc.get_objects(2)}
        assert all(id(x) in seen for x in kept), "unfrozen, they are old again"
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_process_that_settled_its_gc_exits_without_leak_reports() -> None:
    """Frozen objects are unfrozen at exit, so DuckDB's bindings see theirs freed."""
    code = (
        "import duckdb\n"
        "from streams.gc_tuning import settle_gc\n"
        "con = duckdb.connect()\n"
        "con.execute('SELECT 1').fetchall()\n"
        "settle_gc('test')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[:2000]
