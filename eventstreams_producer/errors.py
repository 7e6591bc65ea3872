"""The exceptions the SDK raises, one tree (as httpx's): catch `ProducerError` for all of them.

ProducerError
├── EventError            one event's outcome (event_id, code, message)
│   ├── EventRejected     permanent: publishing it again gives the same answer
│   │   ├── InvalidEvent         INVALID_ARGUMENT: bad data, fails its schema (or refused
│   │   │                        locally, before sending: not a JSON object, no type…)
│   │   ├── EventNotFound        NOT_FOUND: unknown type, schema version or account
│   │   └── EventDiscontinued    FAILED_PRECONDITION: the type is discontinued
│   └── PublishUnavailable       the router/JetStream did not store it and the retries ran
│                                out: safe to publish again later with the same id
├── RequestFailed         the whole Publish call failed (code, message; `retryable`)
└── ProducerClosed        send() after close()
"""

from __future__ import annotations

from eventstreams_producer.codes import Code, name


class ProducerError(Exception):
    """Anything the producer SDK raises."""


class EventError(ProducerError):
    """One event was not accepted."""

    def __init__(self, event_id: str, code: int, message: str) -> None:
        super().__init__(f"event {event_id}: {name(code)}: {message}")
        self.event_id = event_id
        self.code = code
        self.message = message


class EventRejected(EventError):
    """Refused for good: the same event published again would be refused again."""

    @staticmethod
    def for_code(event_id: str, code: int, message: str) -> EventRejected:
        kinds: dict[int, type[EventRejected]] = {
            Code.INVALID_ARGUMENT: InvalidEvent,
            Code.NOT_FOUND: EventNotFound,
            Code.FAILED_PRECONDITION: EventDiscontinued,
        }
        return kinds.get(code, EventRejected)(event_id, code, message)


class InvalidEvent(EventRejected):
    """INVALID_ARGUMENT: malformed, or the data fails the schema version it claims."""


class EventNotFound(EventRejected):
    """NOT_FOUND: the type, its schema version or the account is unknown."""


class EventDiscontinued(EventRejected):
    """FAILED_PRECONDITION: the event type is discontinued."""


class PublishUnavailable(EventError):
    """Not stored after every retry (JetStream did not ack, or the router was unreachable).
    Publishing it again with the same id is safe: JetStream deduplicates on the id."""


class RequestFailed(ProducerError):
    """The Publish call as a whole failed (a gRPC status, not a per-event result)."""

    RETRYABLE = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED})

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Publish failed: {name(code)}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in self.RETRYABLE


class ProducerClosed(ProducerError):
    """The producer was closed: it takes no more events."""
