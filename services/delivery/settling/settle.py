"""Settling: what `decide` says, done to the message and written down — ack, nak with a
delay, park, or a dead letter recorded before the message is terminated."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from runtime import stream_codec, tracing
from runtime.natsio.acks import ack_all
from runtime.sids import AccountSid, SinkSid
from services.delivery.intake.envelope import Envelope
from services.delivery.settling.decision import (
    Ack,
    DeadLetter,
    Decision,
    Happened,
    HeldBack,
    Park,
    Paused,
    Retry,
    RetryRules,
    SinkState,
    decide,
)
from services.delivery.settling.journal import Attempt, Journal
from services.delivery.settling.journal import DeadLetter as DeadLetterRecord
from services.delivery.sinks.base import Outcome

log = logging.getLogger(__name__)

# What the delivery log says of an event parked while its sink is paused.
PAUSED_NOTE = "the sink is paused: the event waits parked until it is resumed"


class Parker(Protocol):
    async def park(self, envelope: Envelope) -> bool:
        """Move the event to the parking stream (and acknowledge it here); False: it could
        not be, and it is still this worker's to settle."""


class SettleObserver(Protocol):
    def settled(
        self,
        sink_sid: str,
        envelopes: Sequence[Envelope],
        happened: Sequence[Happened],
        decisions: Sequence[Decision],
    ) -> None:
        """What became of a sink's events — a call's, or one — (for metrics): the three in
        step. Told once per call, not per event: with two observers, a call per event each
        was ~10 % of a worker's Python at full load."""


class Settler:
    def __init__(
        self,
        journal: Journal,
        rules: RetryRules,
        parker: Parker | None = None,
        owner_of: Callable[[SinkSid], AccountSid | None] = lambda sink_sid: None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        observers: tuple[SettleObserver, ...] = (),
        tracer: Tracer | None = None,
        acknowledge: Callable[[Sequence[Msg]], Awaitable[None]] = ack_all,
    ) -> None:
        """`acknowledge`: how a call's acknowledgements are written (at once, or gathered
        with other calls' — runtime/natsio/acks.GatheredAcks)."""
        self._tracer = tracer
        self._acknowledge = acknowledge
        self._journal = journal
        self._rules = rules
        self._parker = parker
        self._owner_of = owner_of
        self._clock = clock
        self._rng = rng
        self._observers = observers

    async def settle(
        self,
        envelope: Envelope,
        happened: Happened,
        sink: SinkState,
        latency_ms: int = 0,
        hand_back: bool = True,
    ) -> Decision:
        """`hand_back=False`: an event to try again stays with the caller (an ordered sink's,
        whose key must not move on without it) instead of going back to JetStream."""
        decision = await self._settle(envelope, happened, sink, latency_ms, hand_back, self._clock())
        for observer in self._observers:
            observer.settled(envelope.sink_sid, (envelope,), (happened,), (decision,))
        return decision

    def expired(self, stored_at: float) -> bool:
        """Whether an event stored at `stored_at` is past its retry window."""
        return self._clock() - stored_at >= self._rules.max_age_seconds

    async def expire(self, envelope: Envelope) -> bool:
        """A parked event past its retry window that its down sink never took back: a dead
        letter, as a worker would make it were it brought back (`decide` on an event held
        back, past its window). False: not past it; the message is left as it is."""
        if not self.expired(envelope.stored_at):
            return False
        await self.settle(envelope, HeldBack(), SinkState())
        return True

    async def settle_call(
        self,
        envelopes: Sequence[Envelope],
        happened: Sequence[Happened],
        sink: SinkState,
        latency_ms: int = 0,
    ) -> None:
        """A call's events (one sink's, `happened` in step with them), each as `settle` would,
        their acknowledgements sent together once all are settled; the observers told once.
        Should one fail to settle (the connection gone), those before it are still
        acknowledged and observed."""
        decisions: list[Decision] = []
        acks: list[Msg] = []
        now = self._clock()  # the call's events are settled, and recorded, as of one time
        try:
            for envelope, what in zip(envelopes, happened, strict=True):
                decisions.append(await self._settle(envelope, what, sink, latency_ms, True, now, acks))
        finally:
            try:
                await self._acknowledge(acks)
            finally:
                if len(decisions) < len(envelopes):
                    envelopes, happened = envelopes[: len(decisions)], happened[: len(decisions)]
                if decisions:
                    for observer in self._observers:
                        observer.settled(envelopes[0].sink_sid, envelopes, happened, decisions)

    async def _settle(
        self,
        envelope: Envelope,
        happened: Happened,
        sink: SinkState,
        latency_ms: int,
        hand_back: bool,
        now: float,
        acks: list[Msg] | None = None,
    ) -> Decision:
        """`acks`: where an acknowledgement goes to be sent later, with others (else now)."""
        age = now - envelope.stored_at
        decision = decide(happened, envelope.delivered, age, sink, self._rules, self._rng)
        attempted = isinstance(happened, Outcome)
        if isinstance(decision, Ack):
            if acks is None:
                await envelope.msg.ack()
            else:
                acks.append(envelope.msg)
            self._record(envelope, "delivered", latency_ms, happened, now)
        elif isinstance(decision, Retry):
            if hand_back:
                await envelope.msg.nak(delay=decision.delay)
            if decision.attempted:
                self._record(envelope, "retrying", latency_ms, happened, now)
        elif isinstance(decision, Park):
            if not hand_back:
                pass
            elif self._parker is None or not await self._parker.park(envelope):
                await envelope.msg.nak(delay=decision.fallback_delay)
            if isinstance(happened, Paused):  # the log says where it is while its sink is paused
                self._record(envelope, "parked", latency_ms, happened, now)
        else:
            await self._dead_letter(envelope, decision)
            if attempted:
                self._record(envelope, "failed", latency_ms, happened, now)
        if self._tracer is not None and envelope.trace and (attempted or isinstance(decision, DeadLetter)):
            self._trace(envelope, happened, decision, latency_ms)
        return decision

    def _trace(self, envelope: Envelope, happened: Happened, decision: Decision, latency_ms: int) -> None:
        """A `deliver` span for the attempt (or the dead letter), child of the router's
        `route` span of the event, from the attempt's start to now."""
        assert self._tracer is not None
        ended = time.time_ns()
        span = self._tracer.start_span(
            "deliver",
            context=tracing.extract({stream_codec.TRACEPARENT: envelope.trace}),
            kind=SpanKind.CONSUMER,
            start_time=ended - latency_ms * 1_000_000,
            attributes={
                tracing.EVENT_ID: envelope.event.event_id,
                tracing.SINK_SID: envelope.sink_sid,
                tracing.EVENT_TYPE: envelope.event.type_name,
                tracing.ATTEMPT: envelope.delivered,
                tracing.OUTCOME: type(decision).__name__,
            },
        )
        error = happened.error if isinstance(happened, Outcome) else None
        if error is not None or isinstance(decision, DeadLetter):
            reason = error.message if error else decision.reason if isinstance(decision, DeadLetter) else ""
            span.set_status(Status(StatusCode.ERROR, reason))
        span.end(end_time=ended)

    def _accounts(self, envelope: Envelope) -> tuple[AccountSid, AccountSid | None]:
        """(whose record it is, the event's own account when that is another): the sink's
        owner sees its sink's records, rolled-up subaccount events included."""
        source = envelope.event.account_sid
        owner = self._owner_of(envelope.sink_sid) or source
        return owner, (source if source != owner else None)

    async def _dead_letter(self, envelope: Envelope, letter: DeadLetter) -> None:
        event = envelope.event
        owner, source = self._accounts(envelope)
        await self._journal.dead_letter(
            DeadLetterRecord(
                account_sid=owner,
                source_account_sid=source,
                sink_sid=envelope.sink_sid,
                event_id=event.event_id,
                type=event.type_name,
                subject=envelope.subject,
                payload=event.payload,
                attempts=envelope.delivered,
                reason=letter.reason,
                error_code=letter.code,
                status_code=letter.status,
            )
        )
        await envelope.msg.term()
        log.info(
            "sink %s: event %s is a dead letter (%s)",
            envelope.sink_sid,
            event.event_id,
            letter.reason,
            extra={
                "event_id": event.event_id,
                "sink_sid": envelope.sink_sid,
                "account_sid": owner,
                "error_code": letter.code,
                "reason": letter.reason,
            },
        )

    def _record(
        self, envelope: Envelope, outcome: str, latency_ms: int, happened: Happened, now: float
    ) -> None:
        if isinstance(happened, Paused):
            happened = Outcome(error=None, status=None)
            note: str | None = PAUSED_NOTE
        elif isinstance(happened, Outcome):
            note = None
        else:
            return
        error = happened.error
        event = envelope.event
        owner, source = self._accounts(envelope)
        # Positional, in Attempt's field order: one per attempt, and keywords cost 2.5x.
        self._journal.attempt(
            Attempt(
                owner,
                envelope.sink_sid,
                event.event_id,
                event.type_name,
                envelope.delivered,  # attempt
                outcome,
                error.status if error else happened.status,  # status_code
                latency_ms,
                error.code if error else None,  # error_code
                error.message[:500] if error else note,  # error
                now,  # date_created
                source,  # source_account_sid
                max(0, int((now - envelope.stored_at) * 1000)),  # age_ms
                envelope.trigger or None,  # triggered_by
                happened.exchange,  # call_detail
            )
        )
