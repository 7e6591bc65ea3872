"""One sink's lane: the rules lanes keep to, a lane's state (its queue, calls in flight,
outage, throttle and measured pace) and what a worker reports of it (health, metrics)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from runtime.sids import SinkSid
from services.delivery.intake.envelope import Envelope
from services.delivery.scheduling import capacity, throttle
from services.delivery.settling.decision import RetryRules


@dataclass(frozen=True)
class LaneRules:
    concurrency: int = 32  # calls in flight to one healthy sink
    # For a batching sink: fewer calls at once, so that under load ready events gather
    # into full batches instead of leaving one by one.
    batch_concurrency: int = 4
    probe_concurrency: int = 1  # to a sink whose last call failed
    # A failing sink keeps this many queued; the rest waits in JetStream.
    failing_buffer: int = 16
    # A sink whose pace is not known yet (no call has returned) may queue this many.
    unmeasured_buffer: int = 512
    # A lane idle this long forgets its sink's pace (many sinks must not mean much memory).
    idle_forget_seconds: float = 60.0
    # No event waits in a worker longer than this fraction of ack_wait: a lane holds no
    # more than it can deliver in that time, and what waits longer is handed back or
    # marked in progress, so JetStream never redelivers what a worker still holds.
    ack_wait_seconds: float = 30.0
    hold_fraction: float = 1 / 3
    # A batching sink's next call waits up to this long after its last one for more events
    # (batching.gather_wait): at a steady rate, a call, an acknowledgement and a log write
    # for several events instead of each. Bounded by what a first attempt may add to latency.
    gather_seconds: float = 0.004
    throttle: throttle.ThrottleRules = field(default_factory=throttle.ThrottleRules)
    retry: RetryRules = field(default_factory=RetryRules)

    @property
    def hold_seconds(self) -> float:
        return self.ack_wait_seconds * self.hold_fraction


@dataclass
class Meter:
    """Events per second, over windows of a second or more, smoothed."""

    rate: float = 0.0
    window_start: float = 0.0
    window_events: int = 0

    def count(self, events: int, now: float) -> None:
        if self.window_start == 0.0:
            self.window_start = now
        self.window_events += events
        span = now - self.window_start
        if span >= 1.0:
            measured = self.window_events / span
            self.rate = measured if self.rate == 0.0 else 0.5 * self.rate + 0.5 * measured
            self.window_start, self.window_events = now, 0


@dataclass
class Lane:
    sink_sid: SinkSid
    queue: deque[Envelope] = field(default_factory=deque)
    in_flight: int = 0
    flying: list[list[Envelope]] = field(default_factory=list)  # the batches of calls in flight
    failing_since: float | None = None  # clock time of the first failure of the current outage
    before_outage: throttle.Throttle | None = None  # the throttle as it was when the outage began
    probe_at: float = 0.0  # a failing sink is tried again no sooner than this
    limiter: throttle.Throttle = field(default_factory=throttle.Throttle)
    timer: asyncio.TimerHandle | None = None
    gathering: asyncio.TimerHandle | None = None  # the next call waits for more events
    last_call_at: float = float("-inf")  # monotonic: when its last call started
    latency: float = 0.0  # moving average of call time, seconds
    per_call: float = 1.0  # moving average of events per call
    idle_since: float | None = None  # monotonic
    done: Meter = field(default_factory=lambda: Meter())  # events/s its calls completed
    capacity_seen: capacity.Seen | None = None  # the last capacity worked out

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def observe(self, seconds: float, events: int) -> None:
        if self.latency == 0.0:
            self.latency, self.per_call = seconds, float(events)
        else:
            self.latency = 0.8 * self.latency + 0.2 * seconds
            self.per_call = 0.8 * self.per_call + 0.2 * events


@dataclass(frozen=True)
class LaneReport:
    sink_sid: str
    state: str  # healthy | throttled | failing
    throttle_cap: float | None  # calls/s, when throttled
    failing_since: float | None  # clock time, when failing
    queued: int  # events queued or in flight
