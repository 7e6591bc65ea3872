"""How many ready events go into one call to a sink, by the limits the sink declares."""

from __future__ import annotations

from collections.abc import Sequence

from services.delivery.sinks.base import Limits


def take(event_sizes: Sequence[int], limits: Limits) -> int:
    """How many of the ready events (in order) fit one call: at most `max_events`, and framed
    at most `max_call_bytes`. At least one: an event is checked against `max_event_bytes`
    before it is batched, so one always goes."""
    if not event_sizes:
        return 0
    framing = limits.framing
    used = framing.call + event_sizes[0]
    count = 1
    for size in event_sizes[1 : limits.max_events]:
        if used + framing.separator + size > limits.max_call_bytes:
            break
        used += framing.separator + size
        count += 1
    return count
