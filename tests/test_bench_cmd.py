"""`hiveledger bench` from end to end at a small size: a fresh node, the real path, both
baselines, one JSON report. Rates are reported, never asserted: only that every figure
is there and that every transfer was decided and projected."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from gateways.bench.end_to_end import wait_projected


def test_bench_reports_every_figure_from_one_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateways.cli.main", "bench", "-n", "400", "--wallets", "20",
         "--baseline-n", "100", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in ("tx_per_s", "raw_jetstream_per_s", "eventsourcing_sqlite_per_s",
                "lag_p50_ms", "lag_p99_ms", "ratio_vs_eventsourcing_sqlite"):  # fmt: skip
        assert isinstance(report[key], int | float) and report[key] >= 0, key
    assert report["accepted"] + report["rejected"] == 400 and report["accepted"] > 0
    assert report["baseline_accepted"] > 0 and report["baseline_n"] == 100  # 50 before, 50 after
    assert len(report["eventsourcing_sqlite_before_after_per_s"]) == 2
    assert report["sync_interval"] == "always"
    assert set(report["sequencer_seconds"]) == {"check", "execute", "record", "wait"}
    processes = {"nats_server", "node_http_projector", "sequencer", "sequencer_check"}
    assert processes <= set(report["cpu_seconds"])


class CountingNode:
    """What wait_projected asks of a node (unit test of its logic): the last transaction
    is answered ``answer_at`` s in, the count is complete ``complete_at`` s in."""

    def __init__(self, answer_at: float, complete_at: float | None) -> None:
        self.t0 = time.perf_counter()
        self.answer_at, self.complete_at = answer_at, complete_at
        self.counts = 0

    def transaction(self, txid: str, wait: float | None = None) -> dict[str, str]:
        time.sleep(max(0.0, self.answer_at - (time.perf_counter() - self.t0)))
        return {"txid": txid}

    def sql(self, query: str) -> dict[str, list[list[int]]]:
        self.counts += 1
        now = time.perf_counter() - self.t0
        return {"rows": [[10 if self.complete_at is not None and now >= self.complete_at else 9]]}


def test_the_clock_stops_when_the_last_transaction_is_answered() -> None:
    node = CountingNode(answer_at=0.3, complete_at=0.3)
    done = wait_projected(node, "last", 10, timeout=10, progress=lambda n: None)  # type: ignore[arg-type]
    assert 0.3 <= done - node.t0 < 0.6 and node.counts == 1


def test_decisions_still_missing_when_the_last_is_answered_stop_the_clock_later() -> None:
    node = CountingNode(answer_at=0.0, complete_at=0.5)
    done = wait_projected(node, "last", 10, timeout=10, progress=lambda n: None)  # type: ignore[arg-type]
    assert done - node.t0 >= 0.5 and node.counts == 2  # one count a PROGRESS_S, no spinning


def test_a_count_that_never_completes_times_out_without_spinning() -> None:
    node = CountingNode(answer_at=0.0, complete_at=None)
    with pytest.raises(TimeoutError, match="9 of 10"):
        wait_projected(node, "last", 10, timeout=1.5, progress=lambda n: None)  # type: ignore[arg-type]
    assert node.counts <= 3
