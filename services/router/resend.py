"""Which failed publishes the router sends again, and when — a pure policy.

A publish JetStream did not answer (its stream leader died, an election is under way, the
connection dropped) is sent again with the same `Nats-Msg-Id` until the call's deadline: if
the first one was stored after all, the stream's dedupe window answers the second as a
duplicate and nothing is stored twice. A refusal that will not change within the call (a
full stream, an event too large, a bad request) is answered at once.
"""

from __future__ import annotations

from nats.errors import OutboundBufferLimitError
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

# JetStream's "store failed" (e.g. "maximum bytes exceeded": the stream is full, discard new):
# sending again within one call does not make room.
STORE_FAILED = 10077

FIRST_PAUSE_SECONDS = 0.1
MAX_PAUSE_SECONDS = 1.0


def worth_resending(failure: BaseException) -> bool:
    """Whether a publish that failed this way may succeed if sent again in a moment."""
    if isinstance(failure, TimeoutError | NoStreamResponseError | OutboundBufferLimitError):
        return True
    if isinstance(failure, ServiceUnavailableError):
        return failure.err_code != STORE_FAILED
    return False


def store_full(failure: BaseException) -> bool:
    """Whether JetStream refused to store it for want of room: the events stream's backlog of
    undelivered events is at its budget (discard new) until the sinks drain it."""
    return isinstance(failure, ServiceUnavailableError) and failure.err_code == STORE_FAILED


def pause_before(resend: int) -> float:
    """Seconds to wait before resend number `resend` (1, 2, …): doubling, capped."""
    return min(FIRST_PAUSE_SECONDS * 2.0 ** (resend - 1), MAX_PAUSE_SECONDS)
