"""CPU per delivered event, as `make bench` reports it (devkit/bench_report.py)."""

from __future__ import annotations

from typing import Any

import pytest

from devkit import bench_observability as observability
from devkit import bench_producer as producer
from devkit.bench_procs import OTHER
from devkit.bench_report import cpu_per_event, cpu_spreads, per_event_us, ratios
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


def test_a_row_gives_the_pipeline_and_each_process_over_the_trials() -> None:
    slower = {**WINDOW, "events": 2000}  # the same CPU for half the events: twice the µs
    found = cpu_spreads([WINDOW, slower], apart=("bench driver",))
    assert found["us_per_event"]["median"] == 675.0
    assert found["us_per_event"]["min"] == 450.0 and found["us_per_event"]["max"] == 900.0
    # the pipeline's processes (nats-server last), then those shown apart; catalog is neither
    assert list(found["us_by_process"]) == ["router", "delivery-0", "nats-server", "bench driver"]
    assert found["us_by_process"]["bench driver"]["median"] == 375.0  # 0.5 × 2 s over 4000, 2000: 250, 500
    assert cpu_spreads([])["us_per_event"]["median"] is None


def test_observability_rows_print_core_microseconds_per_delivered_event() -> None:
    mode = {
        "events_per_second": 2000.0,
        "complete": True,
        "seconds": 2.0,
        "us_per_event": 450.0,
        "cpu": WINDOW,
    }
    trial = {m: {kind: dict(mode) for kind, _, _ in observability.KINDS} for m in observability.MODES}
    summary = observability.summarise([trial])
    assert "| off | 2,000 | 1.00 | 450 | 2,000 | 1.00 | 450 |" in observability.table(summary)
    breakdown = observability.cpu_table(summary)
    assert "| core-µs per delivered event | pipeline | router | delivery-0 | nats-server |" in breakdown
    assert "| metrics+tracing, one per request | 450 | 100 | 300 | 50 |" in breakdown


def test_producer_rows_print_the_router_and_nats_apart_from_the_client() -> None:
    window = {
        "wall_seconds": 1.0,
        "events": 10_000,
        "cores": {"router": 0.4, "nats-server": 0.1, "control": 0.02, "bench driver": 0.3},
    }
    done = {"events": 10_000, "failures": 0, "seconds": 1.0, "events_per_second": 10_000.0, "cpu": window}
    summary = producer.summarise([{mode: dict(done) for mode in producer.MODES}])
    text = producer.table(summary, producer.Plan(trials=1, events=10_000))
    assert "| router | nats-server | client (bench driver, not in the pipeline) |" in text
    # (0.4 + 0.1) cores × 1 s / 10,000 accepted events = 50 µs; the client's 30 are not in it
    assert "| raw | 10,000 | 1.00 | 0 | 50 | 40 | 10 | 30 |" in text


def test_the_call_cost_table_sums_every_router_and_sets_the_bare_grpc_floor_beside_the_router() -> None:
    window = {
        "wall_seconds": 1.0,
        "events": 1000,
        "cores": {"router": 0.3, "router-1": 0.2, "grpc floor": 0.9},
    }
    # (0.3 + 0.2) cores × 1 s / 1,000 calls = 500 µs; the floor's process is not a router
    assert producer.server_us(window) == 500.0
    assert producer.server_us(window, producer.GRPC_FLOOR) == 900.0
    check: dict[str, Any] = {
        "events_per_call": 0,
        "events": 1000,
        "events_per_second": None,
        "router_us_per_event": None,
        "nats_us_per_event": None,
        "call_p50_ms": 0.7,
        "call_p99_ms": 2.5,
    }
    rows: list[dict[str, Any]] = [
        {**check, "server": producer.GRPC_FLOOR, "router_us_per_call": 460.0},
        {**check, "server": "router", "router_us_per_call": 510.0},
        {
            "events_per_call": 10,
            "events": 1000,
            "events_per_second": 4452.0,
            "router_us_per_event": 140.0,
            "router_us_per_call": 1400.0,
            "nats_us_per_event": 30.0,
            "call_p50_ms": 2.1,
            "call_p99_ms": 4.61,
        },
    ]
    text = producer.call_cost_table(rows)
    assert (
        "| a health check of a bare grpc.aio server, none of our code (1,000 calls) "
        "| - | - | 460 | - | 0.70 / 2.50 |" in text
    )
    assert "| a health check of the router, no events (1,000 calls) | - | - | 510 | - | 0.70 / 2.50 |" in text
    assert (
        "| raw Publish, 10 event(s) a call (1,000 events) | 4,452 | 140 | 1,400 | 30 | 2.10 / 4.61 |" in text
    )
