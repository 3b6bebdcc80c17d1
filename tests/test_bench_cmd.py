"""`hiveledger bench` from end to end at a small size: a fresh node, the real path, both
baselines, one JSON report. Rates are reported, never asserted: only that every figure
is there and that every transfer was decided and projected."""

from __future__ import annotations

import json
import subprocess
import sys


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
