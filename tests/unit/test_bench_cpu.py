"""CPU per delivered event, as `make bench` reports it (devkit/bench_report.py)."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.bench_procs import OTHER
from devkit.bench_report import cpu_per_event, per_event_us, ratios
from devkit.bench_scale import summarise, table, us_per_delivery

pytestmark = pytest.mark.unit

WINDOW = {
    "wall_seconds": 2.0,
    "events": 4000,
    "cores": {"router": 0.2, "delivery-0": 0.6, "nats-server": 0.1, "bench driver": 0.5, "catalog": 0.01},
}


@pytest.mark.parametrize(
    ("window", "name", "expected"),
    [
        # (0.2 + 0.6 + 0.1) cores × 2 s / 4000 events = 450 µs; the driver and catalog are not ours
        (WINDOW, None, 450.0),
        (WINDOW, "router", 100.0),
        (WINDOW, "delivery-0", 300.0),
        (WINDOW, "floor consumer (32 in flight)", None),  # not in this window
        ({**WINDOW, "events": 0}, None, None),  # nothing delivered: no figure
        ({"wall_seconds": 1.0, "events": 1000, "cores": {"floor consumer (32 in flight)": 0.2}}, None, 200.0),
    ],
)
def test_core_microseconds_per_event(
    window: dict[str, Any], name: str | None, expected: float | None
) -> None:
    assert per_event_us(window, name) == expected


def test_the_floor_comparison_is_taken_within_a_trial() -> None:
    trial = {
        "throughput": {"one_per_request": {"events_per_second": 2000.0}},
        "floor": [{"in_flight": 32, "events_per_second": 2500.0}],
        "cpu": {
            "one_per_request": WINDOW,
            "floor_32": {
                "wall_seconds": 1.0,
                "events": 1000,
                "cores": {"floor consumer (32 in flight)": 0.225},
            },
        },
    }
    found = ratios(trial)
    assert found["one_per_request_over_floor_32"] == 0.8
    assert found["floor_32_cpu_over_one_per_request"] == 0.5  # 225 µs / 450 µs
    spread = cpu_per_event(
        {"trials": [trial, {"cpu": {"one_per_request": {**WINDOW, "events": 2000}}}]}, "one_per_request"
    )
    assert spread["median"] == 675.0 and spread["min"] == 450.0 and spread["max"] == 900.0


def test_scale_rows_give_core_microseconds_per_delivery() -> None:
    roles = {"router": 0.3, "workers": 0.9, "nats": 0.4, "postgres": 0.4, "fast receiver": 0.5}
    # (0.3 + 0.9 + 0.4 + 0.4) cores × 10 s / 40,000 deliveries = 500 µs: the receiver is not ours
    assert us_per_delivery(roles, 10.0, 40_000) == 500.0
    assert us_per_delivery(roles, 10.0, 0) is None
    trial = {
        "deliveries_per_second": 4000.0,
        "complete": True,
        "us_per_delivery": 500.0,
        "cores": {**roles, OTHER: 0.1, "bench driver": 0.2, "total": 2.8},
    }
    rows = summarise([{"nodes": 1, "workers": 1, "trials": [trial]}])
    assert "| 1 | 1 | 4,000 | 1.0 | 500 |" in table(rows)
