"""A typed producer SDK for Event Streams: build events, publish them through the router's gRPC
`Publish` in batches, retry what the router could not store with the same event ids (so a retry
never duplicates), hold producers back when too much is unsent, and surface every event's own
outcome. `eventstreams_producer.outbox` adds a transactional outbox for SQLAlchemy.

    async with AsyncProducer.connect("127.0.0.1:50053", token, account_sid=SID) as producer:
        pending = await producer.send("com.twilio.messaging.message.delivered", data, schema_version=7)
        result = await pending          # EventResult, or raises EventRejected / PublishUnavailable
"""

from __future__ import annotations

from eventstreams_producer.async_producer import AsyncProducer
from eventstreams_producer.errors import (
    EventDiscontinued,
    EventError,
    EventNotFound,
    EventRejected,
    InvalidEvent,
    ProducerClosed,
    ProducerError,
    PublishUnavailable,
    RequestFailed,
)
from eventstreams_producer.events import Event, make_event, new_event_id
from eventstreams_producer.grpc_transport import GrpcTransport
from eventstreams_producer.results import BatchResult, EventResult
from eventstreams_producer.retry import RetryPolicy, backoff
from eventstreams_producer.sync_producer import Producer
from eventstreams_producer.transport import Transport

__all__ = [
    "AsyncProducer",
    "BatchResult",
    "Event",
    "EventDiscontinued",
    "EventError",
    "EventNotFound",
    "EventRejected",
    "EventResult",
    "GrpcTransport",
    "InvalidEvent",
    "Producer",
    "ProducerClosed",
    "ProducerError",
    "PublishUnavailable",
    "RequestFailed",
    "RetryPolicy",
    "Transport",
    "backoff",
    "make_event",
    "new_event_id",
]
