"""When a down sink is tried with one of its parked events: pure."""

from __future__ import annotations

from services.delivery.scheduling.lane import Lane


def probe_due(lane: Lane | None, now: float) -> bool:
    """Whether a parked event should be tried: the sink is down, no probe of its own traffic
    is queued or in flight, and its pause between probes is over. No lane: nothing is known
    of the sink here, so one is tried."""
    if lane is None:
        return True
    idle = not lane.queue and lane.in_flight == 0
    return lane.failing and idle and now >= lane.probe_at
