"""The events stream's wire format, in one place: the subject a message goes to, its headers,
its message ids (JetStream's dedupe keys), and how a stored message is read back.

The router writes with `headers()`, the delivery workers read with `decode()`, and replays
and redrives derive their copies with `replay_copy()` / `redrive_headers()` — nothing else
spells a header name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.natsio.headers import CLOSE, OPEN, clean
from runtime.sids import AccountSid, EventId, SinkSid

MSG_ID = "Nats-Msg-Id"
EVENT_TYPE = "Es-Event-Type"
EVENT_ID = "Es-Event-Id"
# Set by the router on an event it could not shape for the sink (the reason): the worker
# records it as a dead letter instead of delivering it.
FAILURE = "Es-Failure"
# Set on a copy made by a replay (the replay's SID): copies are never replayed again.
REPLAY = "Es-Replay"
# Set on a parked copy: when the original was stored (epoch seconds: the retry window's
# start) and how often it had been delivered to a worker before it was parked.
STORED_AT = "Es-Stored-At"
DELIVERED = "Es-Delivered"
# The router's routing revision when it routed the event: a worker whose snapshot is older
# does not know the sink yet (it is new), rather than knowing it is gone.
REVISION = "Es-Revision"
# The W3C trace context of the router's `route` span (runtime/tracing.py): the worker's
# `deliver` span is its child. Absent when tracing is off.
TRACEPARENT = "traceparent"
# A parked event's subject is its own under this prefix.
PARKED_PREFIX = "parked."
# An event for a subscription ordered by key goes to the ordered stream, its subject its
# own under this prefix, its key in this header (runtime/ordering.py).
ORDERED_PREFIX = "ordered."
ORDER_KEY = "Es-Order-Key"
# Set on a copy of an event a user resent to one sink from its delivery log (`resend`): its
# attempts are recorded as resends, and replays never copy it again.
TRIGGER = "Es-Trigger"
RESEND = "resend"


def message_id(account_sid: AccountSid, event_id: EventId, sink_sid: SinkSid) -> str:
    """The dedupe key of an event routed to one sink: a producer's retry stores nothing twice.
    The event's account is part of it: event ids are unique per producer account, and two
    subaccounts rolled up to one sink may use the same one."""
    return f"{account_sid}:{event_id}:{sink_sid}"


def redrive_id(account_sid: AccountSid, event_id: EventId, sink_sid: SinkSid, dead_letter_sid: str) -> str:
    return f"{message_id(account_sid, event_id, sink_sid)}:redrive:{dead_letter_sid}"


@dataclass(slots=True)  # one per message read or written: not frozen (cheaper to build)
class StreamEvent:
    """What one stream message says about its event (the account and sink are in its subject)."""

    event_id: EventId
    type_name: str
    failure: str = ""  # non-empty: deliver nothing, record this reason
    replay_sid: str = ""
    stored_at: float = 0.0  # a parked copy's original's; 0: the message is the original
    delivered: int = 0  # a parked copy's deliveries before it was parked
    revision: int = 0  # the routing revision it was routed at; 0: not known
    trace: str = ""  # its W3C traceparent, when traced
    order_key: str | None = None  # its ordering key, when its sink orders by key
    trigger: str = ""  # RESEND on a user's resend copy; "" otherwise


def headers(event: StreamEvent, msg_id: str) -> dict[str, str]:
    out = {MSG_ID: msg_id, EVENT_TYPE: event.type_name, EVENT_ID: event.event_id}
    if event.failure:
        out[FAILURE] = event.failure
    if event.replay_sid:
        out[REPLAY] = event.replay_sid
    if event.revision:
        out[REVISION] = str(event.revision)
    if event.stored_at:
        out[STORED_AT] = repr(event.stored_at)
        out[DELIVERED] = str(event.delivered)
    if event.trace:
        out[TRACEPARENT] = event.trace
    if event.order_key is not None:
        out[ORDER_KEY] = event.order_key
    if event.trigger:
        out[TRIGGER] = event.trigger
    return out


def header_block(event: StreamEvent, msg_id: str) -> bytes:
    """`headers(event, msg_id)` as the NATS header block nats-py would send for them (the
    one header encoder the services have; runtime/natsio/headers.py), formatted in one pass:
    the router writes one per message, and a dict and a generic encoder cost it nearly twice
    as much (tests/unit/test_fast_encodings.py holds it to nats-py's bytes, and
    tests/integration/test_jetstream_bus.py to what a server hands a reader)."""
    block = (
        f"{OPEN}{MSG_ID}: {clean(msg_id)}\r\n{EVENT_TYPE}: {clean(event.type_name)}\r\n"
        f"{EVENT_ID}: {clean(event.event_id)}\r\n"
    )
    if event.failure:
        block += f"{FAILURE}: {clean(event.failure)}\r\n"
    if event.replay_sid:
        block += f"{REPLAY}: {clean(event.replay_sid)}\r\n"
    if event.revision:
        block += f"{REVISION}: {event.revision}\r\n"
    if event.stored_at:
        block += f"{STORED_AT}: {event.stored_at!r}\r\n{DELIVERED}: {event.delivered}\r\n"
    if event.trace:
        block += f"{TRACEPARENT}: {clean(event.trace)}\r\n"
    if event.order_key is not None:
        block += f"{ORDER_KEY}: {clean(event.order_key)}\r\n"
    if event.trigger:
        block += f"{TRIGGER}: {clean(event.trigger)}\r\n"
    return (block + CLOSE).encode()


def decode(message_headers: Mapping[str, str] | None) -> StreamEvent:
    # Positional, and the numbers converted only when present: once per message a worker reads.
    # `get` is typed loosely on purpose: this is where the event id is read off the wire, and
    # an EventId made here by a call would cost one per message.
    get: Callable[..., Any] = (message_headers or {}).get
    stored_at = get(STORED_AT)
    delivered = get(DELIVERED)
    revision = get(REVISION)
    return StreamEvent(
        get(EVENT_ID, ""),
        get(EVENT_TYPE, ""),
        get(FAILURE, ""),
        get(REPLAY, ""),
        _number(stored_at) if stored_at else 0.0,
        int(_number(delivered)) if delivered else 0,
        int(_number(revision)) if revision else 0,
        get(TRACEPARENT, ""),
        get(ORDER_KEY),
        get(TRIGGER, ""),
    )


def _number(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


def parked_subject(subject: str) -> str:
    return f"{PARKED_PREFIX}{subject}"


def origin_subject(subject: str) -> str:
    """The events-stream subject of a message, parked or not."""
    return subject.removeprefix(PARKED_PREFIX)


def ordered_subject(subject: str) -> str:
    return f"{ORDERED_PREFIX}{subject}"


def park_id(stream: str, sequence: int) -> str:
    """The dedupe key of a parked copy: the message it copies, by its place in its stream —
    a worker that crashes between parking and acknowledging parks nothing twice."""
    return f"park:{stream}:{sequence}"


def parked_headers(
    stored: Mapping[str, str] | None, stored_at: float, delivered: int, park_msg_id: str
) -> dict[str, str]:
    copy = dataclasses.replace(decode(stored), stored_at=stored_at, delivered=delivered)
    return headers(copy, park_msg_id)


def redrive_headers(
    account_sid: AccountSid, event_id: EventId, type_name: str, sink_sid: SinkSid, dead_letter_sid: str
) -> dict[str, str]:
    msg_id = redrive_id(account_sid, event_id, sink_sid, dead_letter_sid)
    return headers(StreamEvent(event_id, type_name), msg_id)


def replay_copy(stored: Mapping[str, str] | None, replay_sid: str) -> dict[str, str] | None:
    """Headers of a replay's copy of a stored message, or None for a message that is itself a
    copy (replays never replay their own copies)."""
    event = decode(stored)
    if event.replay_sid or event.trigger:
        return None
    original = (stored or {}).get(MSG_ID, "")
    copy = dataclasses.replace(event, replay_sid=replay_sid, stored_at=0.0, delivered=0)
    return headers(copy, f"{original}:replay:{replay_sid}")


def resend_copy(stored: Mapping[str, str] | None, resend_sid: str) -> dict[str, str]:
    """Headers of a user's resend of a stored message to its one sink: a fresh copy (its own
    attempts from the first, its retry window from now), marked RESEND, its message id the
    original's and the resend's (`resend_sid`, new each time: each resend is delivered)."""
    event = decode(stored)
    original = (stored or {}).get(MSG_ID, "")
    copy = dataclasses.replace(event, replay_sid="", stored_at=0.0, delivered=0, trigger=RESEND)
    return headers(copy, f"{original}:resend:{resend_sid}")
