"""First-attempt latency as `make bench` reports it: from the driver's exact send times and
the receiver's tracked receipts (devkit/bench_load.first_attempt_latency)."""

from __future__ import annotations

import pytest

from devkit.bench_load import first_attempt_latency

pytestmark = pytest.mark.unit

T0 = 1_800_000_000.0  # a whole second, as epoch seconds


def test_latency_is_receipt_minus_the_exact_send_time_to_the_hundredth_of_a_millisecond() -> None:
    # Sent at .0004 s past the second: a millisecond stamp would read it as .000 and add 0.4 ms.
    sent = [(T0 + 0.0004, ["a", "b"]), (T0 + 0.0104, ["c"])]
    arrivals = {"ids": ["a", "b", "c"], "received_ms": [T0 * 1000 + 4.1, T0 * 1000 + 4.9, T0 * 1000 + 14.0]}
    found = first_attempt_latency(sent, arrivals)
    assert found["overall"]["count"] == 3
    assert found["overall"]["p50_ms"] == 3.7  # 3.7, 4.5, 3.6 → nearest-rank median
    assert found["overall"]["max_ms"] == 4.5


def test_the_first_receipt_second_is_warm_up_and_what_never_arrived_is_not_counted() -> None:
    sent = [(T0 + 0.5, ["early"]), (T0 + 1.5, ["late", "lost"])]
    arrivals = {"ids": ["early", "late"], "received_ms": [T0 * 1000 + 520.0, T0 * 1000 + 1503.0]}
    found = first_attempt_latency(sent, arrivals)
    assert found["warm_up"]["count"] == 1 and found["warm_up"]["p50_ms"] == 20.0
    assert found["steady"]["count"] == 1 and found["steady"]["p50_ms"] == 3.0
    assert [row["second"] for row in found["per_second"]] == [int(T0), int(T0) + 1]
