"""One call to a sink, its failure mapped: what the lanes and the ordered lanes both send by.

A sink's own failure (a `DeliveryError`) is every event's outcome, with its status; anything
else raised is ours — logged, and an `InternalError` for every event, so `decide` retries it
like any transient fault rather than the lane's task dying with the events unsettled. A
driver that answers a different number of outcomes than it was given events is ours too."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.delivery.errors import DeliveryError, InternalError
from services.delivery.sinks.base import Outcome, Sink, SinkEvent

log = logging.getLogger(__name__)


async def call_sink(sink: Sink, sink_sid: str, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
    """One outcome per event, in their order."""
    try:
        await sink.prepare()
        outcomes = await sink.deliver(events)
        if len(outcomes) != len(events):
            raise InternalError(f"the driver answered {len(outcomes)} outcomes for {len(events)} events")
        return outcomes
    except DeliveryError as exc:
        return [Outcome(error=exc, status=exc.status)] * len(events)
    except Exception as exc:
        log.exception("sink %s: internal error while delivering", sink_sid, extra={"sink_sid": sink_sid})
        return [Outcome(error=InternalError(f"internal error: {exc}"))] * len(events)
