"""How many ready events go into one call to a sink, by the limits the sink declares, and
which events a sink cannot take at all (too large, or unreadable for it)."""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Sequence

from services.delivery.errors import DeliveryError, TooLarge
from services.delivery.intake.envelope import Envelope
from services.delivery.sinks.base import Limits, Sink


def unfit(envelope: Envelope, sink: Sink) -> DeliveryError | None:
    """Why the sink cannot take the event (None: it can). The event is sized as its sink
    counts it once, and the answer kept on it."""
    if envelope.size < 0:
        try:
            envelope.size = sink.size(envelope.event)
        except DeliveryError as exc:
            envelope.size, envelope.unfit = sys.maxsize, exc
    limit = sink.limits.max_event_bytes
    if envelope.unfit is None and envelope.size > limit:
        envelope.unfit = TooLarge(
            f"event of {envelope.size} bytes is larger than the sink takes ({limit} bytes)"
        )
    return envelope.unfit


def next_call(queue: deque[Envelope], sink: Sink) -> list[Envelope]:
    """The next call's events, taken off the head of the queue (`take`), stopping before one
    the sink cannot take (`unfit`): none when the head is one."""
    limits = sink.limits
    sizes = []
    used = limits.framing.call
    for envelope in itertools.islice(queue, limits.max_events):
        if unfit(envelope, sink) is not None:
            break
        sizes.append(envelope.size)
        used += envelope.size + limits.framing.separator
        if used > limits.max_call_bytes:
            break  # this one cannot join the call: look no further down a long queue
    count = take(sizes, limits)
    return [queue.popleft() for _ in range(count)]


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


# Less than this left to gather is not worth a timer (and a timer may fire that early).
GATHER_SLACK = 0.0005


def gather_wait(taken: int, max_events: int, since_last_call: float, gather_seconds: float) -> float:
    """How long a batching sink's lane holds a call that would take every event it has
    ready (`taken` of them) before sending it, so that at a steady rate the events that come
    within `gather_seconds` of a call share the next one rather than each paying a call (and
    its acknowledgement and log write) of its own. 0 — send now — for a sink that takes one
    event a call, a call full by count, or no call in the last `gather_seconds`: a lone
    event, or the first of a burst, goes at once, and a backlog (more ready than one call
    takes) is never held."""
    if max_events <= 1 or taken >= max_events:
        return 0.0
    left = gather_seconds - max(0.0, since_last_call)
    return left if left >= GATHER_SLACK else 0.0
