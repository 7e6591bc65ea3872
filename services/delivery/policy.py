"""Pure delivery policies: how a response is classified and when to try again."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from services.delivery.errors import DeliveryError, Rejected, ServerError, Throttled

# The longest wait a Retry-After header can impose on one sink's event.
RETRY_AFTER_LIMIT = 3600.0


def classify(status: int, retry_after: str | None = None) -> DeliveryError | None:
    """None for a delivered event (any 2xx), else the error the response stands for."""
    if 200 <= status < 300:
        return None
    after = parse_retry_after(retry_after)
    if status == 429:
        return Throttled(f"receiver throttled (HTTP {status})", status=status, retry_after=after)
    if 400 <= status < 500:
        return Rejected(f"receiver rejected the event (HTTP {status})", status=status)
    if status >= 500:
        return ServerError(f"receiver failed (HTTP {status})", status=status, retry_after=after)
    # 1xx/3xx: a redirect is not followed (the signature names the configured URL).
    return Rejected(f"unexpected HTTP {status}", status=status)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


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
    jitter = float((rng or random).uniform(0.5, 1.0))
    delay = ceiling * jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_LIMIT))
    return delay
