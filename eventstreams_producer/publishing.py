"""One batch published to its end: retried with the same ids while the router answers
UNAVAILABLE (for the call or for some events), until every event has a final answer or the
policy gives up."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from eventstreams_producer.errors import RequestFailed
from eventstreams_producer.events import Event
from eventstreams_producer.results import BatchResult, EventResult, Outcome
from eventstreams_producer.retry import RetryPolicy, backoff
from eventstreams_producer.transport import Transport

log = logging.getLogger("eventstreams_producer")

Sleep = Callable[[float], Awaitable[object]]


async def publish_with_retries(
    transport: Transport,
    events: Sequence[Event],
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> BatchResult:
    """Every event's final result, in order. Only the events not yet stored are sent again,
    with their own ids. Raises RequestFailed when the whole call fails for a reason a retry
    cannot fix (a malformed request, a wrong credential, a call its role may not make)."""
    final: list[EventResult | None] = [None] * len(events)
    pending = list(range(len(events)))
    attempt = 0
    while pending:
        attempt += 1
        batch = [events[i] for i in pending]
        try:
            answers = await transport.publish(batch)
        except RequestFailed as exc:
            if not exc.retryable:
                raise
            answers = [EventResult(e.id, exc.code, exc.message) for e in batch]
        retry = []
        for index, answer in zip(pending, answers, strict=True):
            final[index] = answer
            if answer.outcome is Outcome.RETRY:
                retry.append(index)
        if not retry:
            break
        delay = backoff(attempt, policy, rng)
        if delay is None:
            break
        log.info("publish: %d of %d events not stored; again in %.2fs", len(retry), len(batch), delay)
        await sleep(delay)
        pending = retry
    results = [r for r in final if r is not None]
    assert len(results) == len(events)
    return BatchResult(results, attempt)
