"""The AMQP client's failures as delivery errors, in one place.

What the broker refuses for good is the sink's `BrokerRefused` (dead-lettered, recorded):
a login or a permission refused (ACCESS_REFUSED), an exchange or a virtual host that does
not exist (NOT_FOUND, NOT_ALLOWED), a message no queue is bound to take (returned NO_ROUTE:
published `mandatory`, so that an event nobody receives is not counted delivered). A broker
that cannot be reached, a connection or channel lost, a publish not confirmed in time, or a
negative confirm (the broker could not take it now) are `BrokerUnavailable` (91307; a
connect or confirm that did not come in time `BrokerTimedOut`, 91308): retried."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import aiormq.exceptions as amqp

from services.delivery.errors import DeliveryError, Permanent, Retryable


class BrokerRefused(Permanent):
    code = 91305


class BrokerUnavailable(Retryable):
    code = 91307


class BrokerTimedOut(BrokerUnavailable):
    """A connect or a confirm that did not come in time."""

    code = 91308


REFUSED = (
    amqp.AuthenticationError,
    amqp.ProbableAuthenticationError,  # the broker closed the connection at login: refused
    amqp.ChannelAccessRefused,
    amqp.ChannelNotFoundEntity,
    amqp.ChannelPreconditionFailed,
    amqp.PublishError,  # returned unroutable (NO_ROUTE)
    amqp.ProtocolSyntaxError,  # a Connection.Close in answer to Connection.Open: the vhost
)


def from_exception(exc: BaseException) -> DeliveryError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, amqp.PublishError):
        return BrokerRefused(f"the message was returned unroutable: no queue is bound for it ({text})")
    if isinstance(exc, REFUSED):
        return BrokerRefused(f"RabbitMQ refused: {text}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return BrokerTimedOut("RabbitMQ did not answer in time")
    return BrokerUnavailable(f"RabbitMQ: {text}")


@contextlib.contextmanager
def mapped() -> Iterator[None]:
    try:
        yield
    except DeliveryError:
        raise
    except (amqp.AMQPError, OSError, RuntimeError, TimeoutError) as exc:
        raise from_exception(exc) from exc
