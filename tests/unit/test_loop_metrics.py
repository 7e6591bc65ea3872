"""The event loop's lock-free counter and histogram (runtime/metrics.py) expose exactly what
prometheus_client's own would for the same updates."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from runtime.metrics import LATENCY_BUCKETS, LoopCounter, LoopHistogram

pytestmark = pytest.mark.unit

AGES = [0.001, 0.005, 0.0051, 0.3, 7.0, 14400.0, 20000.0, 0.005]


def test_the_loop_histogram_reads_as_prometheus_clients() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("h_seconds", "doc", ["sink_type"], registry=theirs, buckets=LATENCY_BUCKETS)
    fast = LoopHistogram("h_seconds", "doc", ["sink_type"], LATENCY_BUCKETS)
    ours.register(fast)
    for index, age in enumerate(AGES):
        kind = "webhook" if index % 3 else "kinesis"
        reference.labels(kind).observe(age)
        fast.observe((kind,), age)
    assert sorted(_samples(ours)) == sorted(s for s in _samples(theirs) if "_created" not in s)


def test_values_observed_together_read_as_observed_one_by_one() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("h_seconds", "doc", ["sink_type"], registry=theirs, buckets=LATENCY_BUCKETS)
    fast = LoopHistogram("h_seconds", "doc", ["sink_type"], LATENCY_BUCKETS)
    ours.register(fast)
    for chunk in (AGES[:3], [], AGES[3:], AGES):
        for age in chunk:
            reference.labels("webhook").observe(age)
        fast.observe_many(("webhook",), chunk)
    assert sorted(_samples(ours)) == sorted(s for s in _samples(theirs) if "_created" not in s)


def test_the_loop_counter_reads_as_prometheus_clients() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Counter("events", "doc", ["sink_type", "outcome"], registry=theirs)
    fast = LoopCounter("events", "doc", ["sink_type", "outcome"])
    ours.register(fast)
    for labels in [("webhook", "delivered")] * 3 + [("kinesis", "retried")]:
        reference.labels(*labels).inc()
        fast.inc(labels)
    assert sorted(_samples(ours)) == sorted(s for s in _samples(theirs) if "_created" not in s)


def _samples(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")]
