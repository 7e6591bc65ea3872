"""Delivery outcomes as a taxonomy: the class decides what happens to the message.
Retryable → nak with a delay (and, for 429/5xx, throttle the sink); Permanent → terminate
and record a dead letter."""

from __future__ import annotations


class DeliveryError(Exception):
    """A failed attempt. `code` is Twilio's error code for it (913xx)."""

    code = 91300
    retryable = False
    # An overload signal (429, 5xx, throughput exceeded): the sink's adaptive throttle reacts.
    slows_sink = False
    # The sink said in so many words to slow down (429, throughput exceeded), not just failed.
    asks_to_slow_down = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class Retryable(DeliveryError):
    retryable = True


class Permanent(DeliveryError):
    retryable = False


class Throttled(Retryable):
    """429: retry, and slow the sink down."""

    code = 91302
    slows_sink = True
    asks_to_slow_down = True


class ServerError(Retryable):
    code = 91306
    slows_sink = True


class ConnectFailed(Retryable):
    code = 91307


class TimedOut(Retryable):
    code = 91308


class Rejected(Permanent):
    """A 4xx other than 429: the receiver refused this event for good."""

    code = 91305


class DestinationRefused(Permanent):
    """The destination resolves to an address the operator does not allow."""

    code = 91307


class SinkGone(Permanent):
    """The sink was deleted, or its account no longer exists."""

    code = 91303


class SchemaMismatch(Permanent):
    """The router could not shape the event for the schema version the sink subscribed to."""

    code = 91303


class TooLarge(Permanent):
    """The event is larger than its sink takes: never sent, never retried."""

    code = 91300


class Misconfigured(Permanent):
    """The sink's configuration cannot be used (it passed control's checks of its day)."""

    code = 91300


class InternalError(Retryable):
    """Our own transient fault, not the sink's."""

    code = 91304
