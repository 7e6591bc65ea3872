"""When a sink's parked event is tried on its own (the sink has no traffic here to probe it
with): pure."""

from __future__ import annotations

from services.delivery.scheduling.lane import Lane


def probe_due(lane: Lane | None, now: float) -> bool:
    """Whether a parked event should be tried. A sink that is down: when no probe of its own
    traffic is queued or in flight and its pause between probes is over. A sink not heard
    from here — no lane, or an idle one none of whose calls has returned (its events were
    parked while it was paused) — is tried with one, whose answer brings the rest back."""
    if lane is None:
        return True
    idle = not lane.queue and lane.in_flight == 0
    if not lane.failing:
        return idle and lane.latency == 0.0
    return idle and now >= lane.probe_at
