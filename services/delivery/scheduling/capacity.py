"""How many events a lane may hold: the capacity reckoning, pure.

No event waits in a worker longer than the hold time (a fraction of ack_wait), so a lane
holds what its sink delivers in that time at its pace, and what is over is handed back to
JetStream (`HeldBack`). Working this out is the Dispatcher's most frequent question — as
each event arrives — so `within` answers from the last capacity worked out when it can."""

from __future__ import annotations

import sys
from typing import Protocol


class CapacityRules(Protocol):
    """What the reckoning reads of the lane rules (`LaneRules`)."""

    @property
    def failing_buffer(self) -> int: ...

    @property
    def unmeasured_buffer(self) -> int: ...

    @property
    def hold_seconds(self) -> float: ...


# The last capacity worked out: (what it was worked out from, the queue's length then, it).
Seen = tuple[tuple[object, ...], int, int]


def per_call(measured: float, max_events: int | None, queued: int) -> float:
    """Events a call carries: as many as its calls have carried lately (`measured`) or, for a
    batching sink with more waiting, as many as the next call could carry (up to its limit,
    `max_events`; None: the sink is not usable). Its pace is often first measured on
    one-event calls — the sink test, a trickle — and a burst behind them would otherwise be
    held back as if each call still took one, then handed back for the seconds that pace
    gives, though the next calls carry hundreds."""
    if max_events is None:
        return measured
    return max(measured, float(min(max_events, queued)))


def capacity(
    rules: CapacityRules,
    room: int,
    failing: bool,
    cap: float | None,
    events_per_call: float,
    concurrency: int,
    latency: float,
    delivered_rate: float,
) -> int:
    """How many events a lane may queue. A sink that delivers the worker's whole `room`
    within the hold time may hold all of it (handing a fast sink's events back would only
    churn and leave it idle); a slower one holds what it delivers in that time at its pace —
    its calls in flight (`concurrency`) over their `latency`, or the rate it has been seen to
    deliver, whichever is higher — or, throttled, at its `cap` (calls/s); a failing one, a few."""
    if failing:
        return rules.failing_buffer
    if cap is not None:
        pace = cap * events_per_call
    elif latency > 0.0:
        pace = max(delivered_rate, concurrency * events_per_call / latency)
    else:  # not measured yet: room for its first calls, not the worker's whole room
        return max(rules.failing_buffer, rules.unmeasured_buffer)
    held = int(pace * rules.hold_seconds)
    if held >= room:
        return sys.maxsize
    return max(rules.failing_buffer, held)


def within(seen: Seen | None, inputs: tuple[object, ...], queued: int) -> bool:
    """Whether a queue of `queued` is within the capacity, known without working it out: the
    capacity grows with the queue (through `per_call`) and depends on nothing else but
    `inputs`, the worker's room and the rules; with the same inputs, a queue no shorter than
    when it was last worked out and no longer than that capacity is within the capacity now.
    False: not known so — work it out."""
    return seen is not None and seen[1] <= queued <= seen[2] and seen[0] == inputs
