"""Prometheus metrics: the sequencer's counters and timings, read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.sequencer_state import SequencerStats


class NodeCollector(Collector):
    def __init__(self, stats: Callable[[], SequencerStats | None], position: Callable[[], int]):
        self.stats = stats
        self.position = position

    def collect(self) -> Iterator[Any]:
        stats = self.stats()
        if stats is not None:
            for name in (
                "accepted",
                "rejected",
                "duplicates",
                "batches",
                "retries",
                "transient_errors",
                "ticks",
            ):
                yield CounterMetricFamily(
                    f"hiveledger_sequencer_{name}",
                    f"transactions {name} by the sequencer"
                    if name in {"accepted", "rejected", "duplicates"}
                    else f"sequencer {name}",
                    value=getattr(stats, name),
                )
            for stage in ("check", "execute", "record", "wait"):
                yield CounterMetricFamily(
                    f"hiveledger_sequencer_{stage}_seconds",
                    f"time the sequencer spent in its {stage} stage",
                    value=getattr(stats, f"seconds_{stage}"),
                )
            yield GaugeMetricFamily(
                "hiveledger_sequencer_ready",
                "1 once the sequencer has started reading INTAKE (stays 1; see /healthz)",
                value=stats.ready,
            )
            yield GaugeMetricFamily(
                "hiveledger_sequencer_intake_position",
                "last INTAKE sequence recorded",
                value=stats.position,
            )
        yield GaugeMetricFamily(
            "hiveledger_projection_position",
            "last LEDGER sequence projected into DuckDB",
            value=self.position(),
        )


def registry_for(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return bytes(generate_latest(registry))
