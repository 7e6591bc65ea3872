"""Putting routed events on JetStream, and only calling it done when JetStream says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from nats.aio.client import Client

from runtime import stream_codec
from runtime.jetstream import StreamSpec, partition_of
from runtime.sids import AccountSid, EventId, SinkSid
from services.router import resend as resend_policy
from services.router.acks import Acks

# Sinks whose partition the bus remembers, at most (forgotten all at once past it).
MAX_REMEMBERED = 100_000


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs per field, per event
class OutMessage:
    account_sid: AccountSid
    sink_sid: SinkSid
    event_id: EventId
    type_name: str
    msg_id: str
    payload: bytes
    failure: str = ""  # why this event cannot be delivered to the sink (recorded, not sent)
    revision: int = 0  # the routing revision it was routed at
    trace: str = ""  # the W3C traceparent of its route span (runtime/tracing.py), when traced
    order_key: str | None = None  # its ordering key, when the sink orders by key (None: unordered)


class EventBus(Protocol):
    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        """Publish all; one entry per message: None when acknowledged, else the failure."""
        ...


class JetStreamBus:
    """Publishes with a deadline per call (`timeout_seconds`) and per attempt
    (`attempt_seconds`): what JetStream has not answered within an attempt — a leader lost
    with the publish, an election — is sent again with the same Nats-Msg-Id (see resend.py)."""

    def __init__(
        self,
        nc: Client,
        spec: StreamSpec,
        timeout_seconds: float,
        window: int = 4000,
        attempt_seconds: float = 2.0,
    ) -> None:
        self._acks = Acks(nc, window)
        # Each partition's events stream and ordered stream; a sink's partition looked up
        # once (a hash of its SID) and remembered.
        self._parts = [(part, part.ordered()) for part in spec.split()]
        self._partition: dict[SinkSid, int] = {}
        self._timeout = timeout_seconds
        self._attempt = attempt_seconds
        self.resent = 0  # publishes sent again, over the bus's life

    @property
    def waiting(self) -> int:
        return self._acks.waiting

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        results: list[BaseException | None] = [None] * len(messages)
        todo = list(range(len(messages)))
        resend = 0
        while True:
            attempt_end = min(deadline, loop.time() + self._attempt)
            outcomes = await self._attempt_once([messages[i] for i in todo], attempt_end)
            again = []
            for index, outcome in zip(todo, outcomes, strict=True):
                results[index] = outcome
                if outcome is not None and resend_policy.worth_resending(outcome):
                    again.append(index)
            resend += 1
            pause = resend_policy.pause_before(resend)
            if not again or loop.time() + pause >= deadline:
                return results
            await asyncio.sleep(pause)
            self.resent += len(again)
            todo = again

    async def _attempt_once(self, messages: list[OutMessage], deadline: float) -> list[BaseException | None]:
        pending = self._acks.pending(len(messages))
        try:
            # One timer for the whole attempt: sending waits while the window of
            # unacknowledged publishes is full (the broker is away).
            async with asyncio.timeout_at(deadline):
                await self._acks.send([self._wire(message) for message in messages], pending)
        except TimeoutError:
            pass
        if not pending.done.done():
            loop = asyncio.get_running_loop()
            await asyncio.wait([pending.done], timeout=max(0.0, deadline - loop.time()))
        self._acks.expire(pending)
        return pending.results()

    def _wire(self, message: OutMessage) -> tuple[str, bytes, bytes]:
        """(subject, header block, payload) of a message on the stream."""
        # Positional, in StreamEvent's field order (no replay, never parked): once per message.
        event = stream_codec.StreamEvent(
            message.event_id,
            message.type_name,
            message.failure,
            "",  # replay_sid
            0.0,  # stored_at
            0,  # delivered
            message.revision,
            message.trace,
            message.order_key,
        )
        header_block = stream_codec.header_block(event, message.msg_id)
        sink_sid = message.sink_sid
        index = self._partition.get(sink_sid)
        if index is None:
            if len(self._partition) >= MAX_REMEMBERED:
                self._partition.clear()
            index = self._partition[sink_sid] = partition_of(sink_sid, len(self._parts))
        work, ordered = self._parts[index]
        spec = work if message.order_key is None else ordered
        return spec.subject(message.account_sid, message.sink_sid), header_block, message.payload
