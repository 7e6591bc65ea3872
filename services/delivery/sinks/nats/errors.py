"""nats-py's failures, and the server's, as delivery errors, in one place.

`NatsRefused` (dead-lettered, recorded): a login refused (Authorization Violation), a
publish the user may not make (Permissions Violation), a subject no stream stores when the
configuration names one (no responders), a stream other than the one named, a message over
the server's max_payload. `NatsUnavailable` (retried): the server cannot be reached, the
connection is lost, JetStream is unavailable; `NatsTimedOut` (91308, retried): an
acknowledgement or a connect that did not come in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import nats.errors
import nats.js.errors

from services.delivery.errors import DeliveryError, Permanent, Retryable


class NatsRefused(Permanent):
    code = 91305


class NatsUnavailable(Retryable):
    code = 91307


class NatsTimedOut(NatsUnavailable):
    """A connect or an acknowledgement that did not come in time."""

    code = 91308


# JetStream's error codes that say the publish will never succeed as configured.
WRONG_STREAM = 10060  # expected stream does not match
PERMISSIONS = "permissions violation"
# At connect, nats-py raises the server's -ERR as a plain Error naming it.
AUTHORIZATION = "authorization violation"


def from_exception(exc: BaseException, stream: str = "") -> DeliveryError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, nats.errors.AuthorizationError) or AUTHORIZATION in text.lower():
        return NatsRefused(f"NATS refused the login: {text}")
    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        return NatsRefused(f"no JetStream stream stores the subject (stream {stream or '?'} expected)")
    if isinstance(exc, nats.js.errors.APIError):
        if exc.err_code == WRONG_STREAM:
            return NatsRefused(f"the subject is stored by another stream than {stream}: {exc.description}")
        if exc.code is not None and 400 <= exc.code < 500 and exc.code not in (408, 429):
            return NatsRefused(f"JetStream refused: {exc.description} ({exc.err_code})")
        return NatsUnavailable(f"JetStream: {exc.description} ({exc.err_code})")
    if isinstance(exc, nats.errors.MaxPayloadError):
        return NatsRefused("the event is larger than the server's max_payload")
    if isinstance(exc, nats.errors.Error) and PERMISSIONS in text.lower():
        return NatsRefused(f"NATS refused the publish: {text}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return NatsTimedOut("NATS did not answer in time")
    return NatsUnavailable(f"NATS: {text}")


@contextlib.contextmanager
def mapped(stream: str = "") -> Iterator[None]:
    try:
        yield
    except DeliveryError:
        raise
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise from_exception(exc, stream) from exc
