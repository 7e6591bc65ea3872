"""The adaptive per-sink throttle, as Twilio describes it: on a 429 or 5xx the sink is capped
at 100 events/s; each further 429/5xx cuts the cap to 99 % of itself; after 5 quiet minutes
the cap grows back, step by step, until the sink is uncapped. Pure: state in, state out.

The cap is the sink's, across every worker: a worker adopts what another learnt (`adopt`)
and paces its own calls at its share of the cap (`acquire`'s `share`; fleet.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ThrottleRules:
    initial_cap: float = 100.0  # events/s on the first 429/5xx
    cut_factor: float = 0.99  # on each further 429/5xx
    floor: float = 1.0  # never below this: a sink keeps getting probed
    quiet_seconds: float = 300.0  # without 429/5xx before ramping back
    ramp_interval_seconds: float = 10.0
    ramp_factor: float = 1.5  # per interval once quiet
    uncapped_above: float = 5000.0  # a cap above this is lifted altogether


@dataclass(frozen=True)
class Throttle:
    cap: float | None = None  # events/s; None: not throttled
    last_error: float = 0.0
    last_ramp: float = 0.0
    tokens: float = 0.0
    refilled_at: float = 0.0

    @property
    def throttled(self) -> bool:
        return self.cap is not None


def on_error(state: Throttle, now: float, rules: ThrottleRules) -> Throttle:
    """A 429 or 5xx from the sink."""
    if state.cap is None:
        return Throttle(cap=rules.initial_cap, last_error=now, last_ramp=now, tokens=1.0, refilled_at=now)
    cap = max(rules.floor, state.cap * rules.cut_factor)
    return replace(state, cap=cap, last_error=now, last_ramp=now, tokens=min(state.tokens, _burst(cap)))


def relax(state: Throttle, now: float, rules: ThrottleRules) -> Throttle:
    """Grow the cap back after a quiet period (call it as time passes)."""
    if state.cap is None or now - state.last_error < rules.quiet_seconds:
        return state
    # Steps count from the end of the quiet period (or the last step), not from the error:
    # the cap grows back gradually instead of jumping by every step the quiet time held.
    start = max(state.last_ramp, state.last_error + rules.quiet_seconds)
    steps = int((now - start) // rules.ramp_interval_seconds)
    if steps <= 0:
        return state
    cap = state.cap * rules.ramp_factor**steps
    if cap > rules.uncapped_above:
        return Throttle()
    return replace(state, cap=cap, last_ramp=start + steps * rules.ramp_interval_seconds)


def adopt(state: Throttle, cap: float, last_error: float, now: float) -> Throttle:
    """What another worker learnt of the sink: a cap set by a newer 429/5xx than this worker
    saw. The newest error's cap wins (it is the latest cut); an older one changes nothing."""
    if state.cap is not None and state.last_error >= last_error:
        return state
    if state.cap is None:
        return Throttle(cap=cap, last_error=last_error, last_ramp=last_error, tokens=1.0, refilled_at=now)
    return replace(
        state, cap=cap, last_error=last_error, last_ramp=last_error, tokens=min(state.tokens, _burst(cap))
    )


def _burst(cap: float) -> float:
    # A tenth of a second of events (at least one), so batches still form under a cap.
    return max(1.0, cap / 10)


def acquire(state: Throttle, wanted: int, now: float, share: float = 1.0) -> tuple[Throttle, int, float]:
    """Take up to `wanted` events' worth of tokens, at `share` of the cap (this worker's part
    of the fleet's). Returns the new state, how many events may go now, and (when none may)
    how long until one may."""
    if state.cap is None:
        return state, wanted, 0.0
    rate = state.cap * share
    tokens = min(_burst(rate), state.tokens + (now - state.refilled_at) * rate)
    # The epsilon: a bucket refilled for exactly the wait it was told holds one whole token,
    # even when floating point leaves it a hair short.
    granted = min(wanted, int(tokens + 1e-9))
    if granted >= 1:
        return replace(state, tokens=tokens - granted, refilled_at=now), granted, 0.0
    wait = (1.0 - tokens) / rate
    return replace(state, tokens=tokens, refilled_at=now), 0, wait
