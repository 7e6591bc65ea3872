"""The decoded stream message: one per message a worker reads, from the shared consumer or
the parking stream, carried through the lanes to its settling."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nats.aio.msg import Msg

from runtime import stream_codec
from runtime.jetstream import StreamSpec
from runtime.natsio.acks import ack_fields
from runtime.sids import SinkSid
from services.delivery.errors import DeliveryError
from services.delivery.sinks.base import SinkEvent


@dataclass(eq=False, slots=True)  # each is itself: compared by identity; one per message read
class Envelope:
    """One message from the stream, read once."""

    msg: Msg
    sink_sid: SinkSid
    event: SinkEvent
    delivered: int  # how often JetStream has delivered it (parked or not) to a worker
    stored_at: float  # when the events stream stored it (epoch seconds): the retry window's start
    failure: str  # set by the router: the event cannot go to this sink, only be recorded
    held_since: float  # monotonic: when this worker took it (or last told JetStream it works on it)
    subject: str  # its subject in the events stream (a parked copy's original's)
    revision: int = 0  # the routing revision the router routed it at (0: not known)
    size: int = -1  # as its sink counts it; -1 until sized
    unfit: DeliveryError | None = None  # why its sink cannot take it, once sized
    trace: str = ""  # the router's route span (W3C traceparent), when traced
    trigger: str = ""  # stream_codec.RESEND on a user's resend copy

    @classmethod
    def of(cls, msg: Msg) -> Envelope:
        stored = stream_codec.decode(msg.headers)
        account_sid, sink_sid = StreamSpec.addressee(msg.subject)
        fields = ack_fields(msg.reply)
        if fields is not None:
            delivered, _, first_stored = fields
        else:  # not a form we read: nats-py's own reading
            metadata = msg.metadata
            delivered = metadata.num_delivered
            first_stored = metadata.timestamp.timestamp() if metadata.timestamp else time.time()
        # Positional, in the fields' order: one per message read, and keywords cost 2.5x.
        return cls(
            msg,
            sink_sid,
            SinkEvent(stored.event_id, stored.type_name, account_sid, msg.data, stored.order_key or ""),
            stored.delivered + delivered,  # delivered
            stored.stored_at or first_stored,  # stored_at
            stored.failure,
            time.monotonic(),  # held_since
            stream_codec.origin_subject(msg.subject),  # subject
            stored.revision,
            trace=stored.trace,
            trigger=stored.trigger,
        )
