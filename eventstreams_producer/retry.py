"""When to publish again: exponential backoff with jitter, a pure function of the attempt.

Retried: a whole call that failed UNAVAILABLE or DEADLINE_EXCEEDED, and each event whose
result was UNAVAILABLE (JetStream did not ack it). Always with the same event ids, so the
router's JetStream dedupe (Nats-Msg-Id from the id, a 120 s window) keeps a retry from ever
storing an event twice."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # Publish calls per event, the first included
    base_seconds: float = 0.1  # the first backoff's ceiling
    cap_seconds: float = 5.0  # no backoff longer than this

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")
        if self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("need 0 <= base_seconds <= cap_seconds")


NO_RETRIES = RetryPolicy(max_attempts=1)


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float | None:
    """The wait before the next try after try number `attempt` (from 1) failed, or None when
    the tries are used up. The ceiling doubles per try up to the cap; the delay is drawn from
    its upper half (as delivery's `retry_delay`): spread enough that producers that failed
    together do not retry together, never so short that a retry comes at once."""
    if attempt >= policy.max_attempts:
        return None
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2.0 ** min(64, max(0, attempt - 1)))
    return ceiling * float((rng or random).uniform(0.5, 1.0))
