"""What happens to an event after a try, or after it was held back: one pure decision for
every sink type.

    decide(outcome, attempt, age, sink) -> Ack | Retry(delay) | Park | DeadLetter(reason, code)

An event that failed backs off by its own attempt count (Twilio: exponential, with jitter),
but never for longer than its sink has been failing: after a 20 s outage nothing waits
minutes for its next try. An event held back from a sink that is down is parked: moved once
to the parking stream, where it costs nothing until the sink answers again and its backlog
is pulled back (parking.py) — not handed back to come round again and again while the sink
stays down; so is one for a sink its owner paused, until it is resumed. One held back from
a throttled or slow sink comes back when its lane should be through what it holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.delivery.errors import DeliveryError, SinkGone
from services.delivery.sinks.base import Outcome

# The longest wait a Retry-After header can impose on one sink's event.
RETRY_AFTER_LIMIT = 3600.0
# Handing an event back sooner than this only churns.
MIN_HAND_BACK_SECONDS = 0.5
# A paused sink's event that cannot be parked comes round again this often (at most
# max_delay_seconds): a pause lasts until its owner ends it, a resumed sink's events soon flow.
PAUSED_HAND_BACK_SECONDS = 30.0


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Retry:
    delay: float
    attempted: bool  # an attempt failed (recorded as "retrying"), or it was only held back


@dataclass(frozen=True)
class Park:
    """Move it to the parking stream until its sink answers; if it cannot be parked, hand it
    back with this delay instead."""

    fallback_delay: float


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    code: int
    status: int | None = None


Decision = Ack | Retry | Park | DeadLetter


@dataclass(frozen=True)
class HeldBack:
    """Not tried: its sink is failing, throttled or slow, and the event waits in JetStream."""


@dataclass(frozen=True)
class UnknownSink:
    """The sink is not in this worker's routing snapshot. `behind`: the snapshot is older
    than the router's was when it routed the event (the sink is new: wait for it); False:
    as new or newer (the sink is gone); None: not known (an event routed before revisions
    were stamped on events)."""

    behind: bool | None = None


@dataclass(frozen=True)
class Paused:
    """Not tried: its owner paused the sink. The event waits parked until it is resumed."""


Happened = Outcome | HeldBack | UnknownSink | Paused


@dataclass(frozen=True)
class RetryRules:
    base_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    max_age_seconds: float = 4 * 3600.0  # Twilio: 4 h
    # A snapshot may lag the router's by a moment: an unknown sink is asked about this often.
    unknown_sink_attempts: int = 5
    # A failing sink's events are back for another try within this fraction of its outage.
    outage_fraction: float = 1.0


@dataclass(frozen=True)
class SinkState:
    outage_seconds: float = 0.0  # how long the sink has been failing; 0: it answers
    throttle_cap: float | None = None  # calls/s, when throttled
    queued: int = 0  # events waiting ahead in its lane
    per_call: float = 1.0  # events its calls carry, on average
    call_seconds: float = 0.0  # how long its calls take, on average
    concurrency: int = 1  # its calls in flight at once


def retry_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with jitter over the upper half of each step, capped at `cap`.
    A receiver's Retry-After wins over the backoff (it knows best when it can take more),
    up to RETRY_AFTER_LIMIT. `attempt` counts from 1 (the attempt that just failed)."""
    ceiling = min(cap, base * 2.0 ** min(64, max(0, attempt - 1)))
    delay = ceiling * _jitter(rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_LIMIT))
    return delay


def _jitter(rng: random.Random | None) -> float:
    return float((rng or random).uniform(0.5, 1.0))


def outage_ceiling(sink: SinkState, rules: RetryRules) -> float:
    """The longest a failing sink's event waits for its next try. A sink that answers (no
    outage) sets no ceiling: an event failing there on its own backs off in full."""
    if sink.outage_seconds <= 0:
        return rules.max_delay_seconds
    return min(rules.max_delay_seconds, max(rules.base_seconds, sink.outage_seconds * rules.outage_fraction))


def hand_back_delay(sink: SinkState, rules: RetryRules, rng: random.Random | None = None) -> float:
    if sink.outage_seconds > 0:  # only if it cannot be parked
        delay = outage_ceiling(sink, rules) * _jitter(rng)
    elif sink.throttle_cap is not None:
        # When its lane should be through what it holds, at the capped calls/s.
        delay = sink.queued / (sink.throttle_cap * max(1.0, sink.per_call))
    else:  # slow: when its lane should be through what it holds
        delay = sink.call_seconds * sink.queued / (max(1, sink.concurrency) * max(1.0, sink.per_call))
    return min(rules.max_delay_seconds, max(MIN_HAND_BACK_SECONDS, delay))


def decide(
    happened: Happened,
    attempt: int,
    age: float,
    sink: SinkState,
    rules: RetryRules,
    rng: random.Random | None = None,
) -> Decision:
    """`attempt`: JetStream's delivery count of the event (1 the first time); `age`: seconds
    since the stream stored it (the retry window's start)."""
    expired = age >= rules.max_age_seconds
    if isinstance(happened, UnknownSink):
        waiting = not expired if happened.behind else attempt < rules.unknown_sink_attempts
        if happened.behind is not False and waiting:
            return Retry(1.0, attempted=False)
        gone = SinkGone("the sink no longer exists")
        return DeadLetter(gone.message, gone.code)
    if isinstance(happened, Paused):
        if expired:
            return DeadLetter("retry window exceeded while the sink was paused", 91300)
        return Park(min(rules.max_delay_seconds, PAUSED_HAND_BACK_SECONDS))
    if isinstance(happened, HeldBack):
        if expired:
            return DeadLetter("retry window exceeded while the sink was failing, throttled or slow", 91300)
        if sink.outage_seconds > 0:
            return Park(hand_back_delay(sink, rules, rng))
        return Retry(hand_back_delay(sink, rules, rng), attempted=False)
    error: DeliveryError | None = happened.error
    if error is None:
        return Ack()
    if not error.retryable:
        return DeadLetter(error.message, error.code, error.status)
    if expired:
        return DeadLetter(f"retry window exceeded: {error.message}", error.code, error.status)
    ceiling = outage_ceiling(sink, rules)
    return Retry(retry_delay(attempt, rules.base_seconds, ceiling, error.retry_after, rng), attempted=True)


def probe_gap(outage_seconds: float) -> float:
    """How long a failing sink rests between probes: a tenth of its outage so far, from
    0.2 s to 5 s — a blip is noticed at once, and recovery within 5 s of it."""
    return min(5.0, max(0.2, outage_seconds / 10))
