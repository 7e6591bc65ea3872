"""What a worker tells of the sinks it holds lanes for: each lane's state (failing: an outage;
throttled: a cap on its calls; healthy) for the health rows and the metrics."""

from __future__ import annotations

from collections.abc import Iterable

from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.lane import Lane, LaneReport


def state_of(lane: Lane) -> str:
    return "failing" if lane.failing else "throttled" if lane.limiter.cap is not None else "healthy"


def lane_reports(lanes: Iterable[Lane], caps: FleetCaps) -> list[LaneReport]:
    return [
        LaneReport(
            lane.sink_sid,
            state_of(lane),
            caps.cap(lane),
            lane.failing_since,
            len(lane.queue) + lane.in_flight,
        )
        for lane in lanes
    ]
