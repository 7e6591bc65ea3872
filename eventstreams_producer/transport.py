"""The seam between the SDK and the wire: anything that publishes a batch and answers one
result per event. The gRPC one (grpc_transport.py) is the default; tests pass fakes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eventstreams_producer.events import Event
from eventstreams_producer.results import EventResult


class Transport(Protocol):
    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        """One result per event, in order. A failure of the whole call raises RequestFailed
        (its `retryable` says whether the SDK tries again)."""
        ...
