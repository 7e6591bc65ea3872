"""Parking: where the events of a sink that is down wait until it answers again.

Handing a down sink's events back to the shared consumer with a delay brings each one round
again and again while the outage lasts — work in proportion to its backlog, taken from every
healthy sink — and a delay long enough to make that cheap keeps the backlog waiting long
after the sink is back. Instead each such event is moved once: copied to the parking stream
(a work queue beside the events stream; its subject the event's own under `parked.`, its
retry window and delivery count in headers, deduplicated by its place in the stream it came
from, so a worker that crashes between the copy and the ack parks nothing twice) and
acknowledged. It then costs nothing while it waits.

It comes back through a durable consumer per sink on the parking stream: at once when a call
to the sink succeeds (a probe of the sink's own traffic, on any worker), and for a sink with
no traffic of its own, by one parked event tried whenever the sink's pause between probes is
over — a sweep every few seconds asks the stream which sinks have events parked. Coming back,
events fill the sink's lane as far as the lane takes them, and are settled like any other:
delivered and acknowledged, or parked again should the sink go down again.

A sink its owner paused is parked the same way (its lanes try nothing), and neither probed
nor drained until it is resumed: then, as for a sink with no traffic of its own, one parked
event is tried, and its answer brings the rest back.

A sink that stays down longer than the retry window never takes its events back, and the
parking stream's max_age would one day delete them unrecorded. So an expiry sweep now and
then looks at the oldest event parked for each sink that is not answering; while that one is
past its retry window, the oldest are taken through the sink's parking consumer (which hands
each to one worker only) and made dead letters (`Expiry`). An event is parked once its
retry window has begun, so the oldest parked are the first to expire; one parked again
behind a younger one waits at most a window more — far within the stream's max_age.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime import jetstream, stream_codec
from runtime.jetstream import StreamSpec
from runtime.sids import SinkSid
from services.delivery.intake.envelope import Envelope
from services.delivery.outage.probing import probe_due
from services.delivery.scheduling.lane import Lane

log = logging.getLogger(__name__)

# What a fetch from a consumer the server no longer has gets: no responders (503), or not found.
CONSUMER_GONE = (
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NotFoundError,
    nats.errors.NoRespondersError,
)


class Intake(Protocol):
    """Where parked events go back in (the lanes)."""

    def offer(self, envelope: Envelope) -> None: ...

    def spare(self, sink_sid: SinkSid) -> int | None:
        """How many events the sink's lane takes now; None unless it is known to answer."""

    def lane(self, sink_sid: SinkSid) -> Lane | None:
        """The sink's lane, if this worker holds one (its outage, its probes)."""

    def paused(self, sink_sid: SinkSid) -> bool:
        """Its owner paused it: its events stay parked until it is resumed."""


class Expiry(Protocol):
    """What makes parked events past their retry window dead letters (the settler)."""

    def expired(self, stored_at: float) -> bool: ...

    async def expire(self, envelope: Envelope) -> bool:
        """Record it as a dead letter and terminate it; False: not past its window."""


@dataclass(frozen=True)
class ParkingRules:
    ack_wait_seconds: float = 30.0
    sweep_seconds: float = 2.0
    fetch_batch: int = 256
    fetch_wait_seconds: float = 0.5
    # A sink's parking consumer left unused this long is removed by the server.
    consumer_idle_seconds: float = 600.0
    # How often the oldest parked events are checked against their retry window.
    expiry_seconds: float = 60.0


class ParkingStream:
    """The parking stream as the settler and the lanes see it: an event parked, whether a sink
    has events parked, a sink that answers again. `Parking` brings the events back; it is
    told of a sink that answers through `answered` (a set and its bell), so the settler and
    the lanes are built before it and it is given them at construction."""

    def __init__(self, js: JetStreamContext, spec: StreamSpec | Sequence[StreamSpec]) -> None:
        """`spec`: the parking stream, or each partition's in partition order (a parked
        event goes to its own partition's: its subject is its events stream's under
        `parked.`)."""
        self.js = js
        self.parts = jetstream.partitions_of(spec)
        self.waiting_sinks: set[SinkSid] = set()  # sinks with events parked, as far as this worker knows
        self.parked_since_sweep: set[SinkSid] = set()
        self.answered: set[SinkSid] = set()  # sinks that answered a call since `Parking` last looked
        self.answer_bell = asyncio.Event()

    async def start(self) -> None:
        for part in self.parts:
            await jetstream.ensure_stream(self.js, part)

    def of(self, sink_sid: SinkSid) -> StreamSpec:
        return jetstream.stream_of_sink(self.parts, sink_sid)

    async def park(self, envelope: Envelope) -> bool:
        msg = envelope.msg
        metadata = msg.metadata
        headers = stream_codec.parked_headers(
            msg.headers,
            envelope.stored_at,
            envelope.delivered,
            stream_codec.park_id(metadata.stream, metadata.sequence.stream),
        )
        try:
            await self.js.publish(stream_codec.parked_subject(envelope.subject), msg.data, headers=headers)
        except Exception as exc:  # the broker cannot take it now: handed back instead
            log.warning(
                "sink %s: could not park %s: %s",
                envelope.sink_sid,
                envelope.event.event_id,
                exc,
                extra={"sink_sid": envelope.sink_sid, "event_id": envelope.event.event_id},
            )
            return False
        self.waiting_sinks.add(envelope.sink_sid)
        self.parked_since_sweep.add(envelope.sink_sid)
        await msg.ack()
        return True

    def waiting(self, sink_sid: SinkSid) -> bool:
        return sink_sid in self.waiting_sinks

    def answering(self, sink_sid: SinkSid) -> None:
        self.answered.add(sink_sid)
        self.answer_bell.set()


class Parking:
    def __init__(
        self,
        stream: ParkingStream,
        rules: ParkingRules,
        intake: Intake,
        expiry: Expiry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`intake`: where parked events go back in (the lanes); `expiry`: what makes those
        past their retry window dead letters (the settler); `clock`: the lanes' clock."""
        self._stream = stream
        self._clock = clock
        self._js = stream.js
        self._rules = rules
        self._intake: Intake | None = intake
        self._expiry = expiry
        self._drains: dict[SinkSid, asyncio.Task[None]] = {}
        self._subscriptions: dict[SinkSid, JetStreamContext.PullSubscription] = {}
        self._fetching: dict[str, asyncio.Lock] = {}

    def _of(self, sink_sid: SinkSid) -> StreamSpec:
        return self._stream.of(sink_sid)

    # Bringing events back

    async def run(self) -> None:
        expiry = self._expiry
        # Apart from the sweep: a long outage's backlog expiring at once must not hold up
        # other sinks' probes and drains.
        expiring = asyncio.create_task(self._expire_now_and_then(expiry)) if expiry is not None else None
        answers = asyncio.create_task(self._hear_answers())
        try:
            while True:
                try:
                    await self.sweep()
                except Exception as exc:  # the broker is away: sweep again later
                    log.warning("parking sweep failed: %s", exc)
                await asyncio.sleep(self._rules.sweep_seconds)
        finally:
            for task in (expiring, answers):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _hear_answers(self) -> None:
        """A sink that answers a call (on this worker) has its parked events brought back at once."""
        stream = self._stream
        while True:
            await stream.answer_bell.wait()
            stream.answer_bell.clear()
            answered, stream.answered = stream.answered, set()
            for sink_sid in answered:
                if self._intake is not None and sink_sid not in self._drains:
                    self._start_drain(sink_sid)

    async def _expire_now_and_then(self, expiry: Expiry) -> None:
        while True:
            await asyncio.sleep(self._rules.expiry_seconds)
            try:
                await self.expire(expiry)
            except Exception:  # the next round tries again
                log.exception("expiring parked events failed")

    async def expire(self, expiry: Expiry) -> int:
        """Make dead letters of the events past their retry window parked for the sinks that
        are not answering (one that answers takes its events back, and its lanes judge each).
        Returns how many."""
        intake = self._intake
        count = 0
        for sink_sid in list(self._stream.waiting_sinks):
            if sink_sid in self._drains or (intake is not None and intake.spare(sink_sid) is not None):
                continue
            try:
                count += await self._expire(sink_sid, expiry)
            except Exception as exc:  # the next round tries again
                log.warning("sink %s: expiring parked events failed: %s", sink_sid, exc)
        return count

    async def _expire(self, sink_sid: SinkSid, expiry: Expiry) -> int:
        count = 0
        while True:
            # A look at the oldest without taking it: an event taken is counted delivered
            # once more, and for most of a window the oldest is not yet past it.
            oldest = await self._oldest_stored_at(sink_sid)
            if oldest is None or not expiry.expired(oldest):
                return count
            messages = await self._fetch(sink_sid, self._rules.fetch_batch)
            if not messages:  # all taken elsewhere (a probe, another worker's sweep)
                return count
            envelopes = [Envelope.of(msg) for msg in messages]
            old = [e for e in envelopes if expiry.expired(e.stored_at)]
            young = [e for e in envelopes if not expiry.expired(e.stored_at)]
            # Together: the delivery log writes their dead letters by group commit.
            results = await asyncio.gather(*(expiry.expire(e) for e in old), return_exceptions=True)
            kept = young + [e for e, result in zip(old, results, strict=True) if result is not True]
            for envelope in kept:
                with contextlib.suppress(Exception):
                    await envelope.msg.nak()
            count += sum(result is True for result in results)
            error = next((r for r in results if isinstance(r, BaseException)), None)
            if error is not None:
                raise error
            if kept:  # the rest was parked later
                return count

    async def _oldest_stored_at(self, sink_sid: SinkSid) -> float | None:
        """When the events stream stored the sink's oldest parked event; None: none parked."""
        spec = self._of(sink_sid)
        try:
            raw = await self._js.get_msg(spec.name, seq=1, subject=spec.sink_filter(sink_sid), next=True)
        except nats.js.errors.NotFoundError:
            return None
        stored = stream_codec.decode(raw.headers)
        if stored.stored_at:
            return stored.stored_at
        return raw.time.timestamp() if raw.time is not None else None

    async def sweep(self) -> None:
        """Learn which sinks have events parked; drain those that answer, probe the others."""
        intake = self._intake
        if intake is None:
            return
        stream = self._stream
        stream.parked_since_sweep = set()
        parked: set[SinkSid] = set()
        for part in stream.parts:
            info = await self._js.stream_info(part.name, subjects_filter=">")
            subjects = info.state.subjects or {}
            parked |= {StreamSpec.addressee(s)[1] for s, count in subjects.items() if count}
        stream.waiting_sinks = parked | stream.parked_since_sweep | set(self._drains)
        for sink_sid in list(self._subscriptions):
            if sink_sid not in stream.waiting_sinks:
                await self._unsubscribe(sink_sid)
        for sink_sid in parked:
            if sink_sid in self._drains or intake.paused(sink_sid):
                continue
            if intake.spare(sink_sid) is not None:
                self._start_drain(sink_sid)
            elif probe_due(intake.lane(sink_sid), self._clock()):
                await self._bring_back(intake, await self._fetch(sink_sid, 1))

    def _start_drain(self, sink_sid: SinkSid) -> None:
        task = asyncio.create_task(self._drain(sink_sid))
        self._drains[sink_sid] = task
        task.add_done_callback(lambda _: self._drains.pop(sink_sid, None))

    async def _drain(self, sink_sid: SinkSid) -> None:
        intake = self._intake
        assert intake is not None
        try:
            while True:
                spare = intake.spare(sink_sid)
                if spare is None:  # down again: what came back is parked again, the sweep probes
                    return
                if spare == 0:
                    await asyncio.sleep(0.05)
                    continue
                messages = await self._fetch(sink_sid, min(spare, self._rules.fetch_batch))
                if not messages:
                    self._stream.waiting_sinks.discard(sink_sid)
                    return
                await self._bring_back(intake, messages)
        except Exception as exc:  # the sweep starts it again
            log.warning("sink %s: bringing parked events back failed: %s", sink_sid, exc)

    async def _bring_back(self, intake: Intake, messages: list[Msg]) -> None:
        """Each fetched message goes to its lane; one that cannot (unreadable) goes straight
        back to the parking stream rather than waiting out ack_wait with the rest."""
        for msg in messages:
            try:
                intake.offer(Envelope.of(msg))
            except Exception:
                log.exception("parked message %s could not be taken back", msg.subject)
                with contextlib.suppress(Exception):
                    await msg.nak(delay=self._rules.sweep_seconds)

    async def _fetch(self, sink_sid: SinkSid, count: int) -> list[Msg]:
        # One fetch at a time per sink (a probe, a drain, the expiry): fetches at once on one
        # pull subscription would read each other's replies.
        lock = self._fetching.setdefault(sink_sid, asyncio.Lock())
        async with lock:
            return await self._fetch_alone(sink_sid, count)

    async def _fetch_alone(self, sink_sid: SinkSid, count: int) -> list[Msg]:
        for attempt in range(2):
            subscription = self._subscriptions.get(sink_sid)
            if subscription is None:
                spec = self._of(sink_sid)
                subscription = await self._js.pull_subscribe(
                    spec.sink_filter(sink_sid),
                    durable=f"parked_{sink_sid}",
                    stream=spec.name,
                    config=self._consumer_config(),
                )
                self._subscriptions[sink_sid] = subscription
            try:
                return await subscription.fetch(count, timeout=self._rules.fetch_wait_seconds)
            except (TimeoutError, nats.errors.TimeoutError):
                return []
            except CONSUMER_GONE as exc:
                # The server removed the consumer under us — idle past its threshold while
                # the sink's own traffic did the probing, or deleted by an operator — and
                # would answer every fetch so: made again, or the parked events would never
                # come back and the stream's max_age would delete them unrecorded.
                await self._unsubscribe(sink_sid)
                if attempt:
                    raise
                log.info("sink %s: parking consumer gone (%s); making it again", sink_sid, type(exc).__name__)
        return []  # not reached: the second attempt returns or raises

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._rules.ack_wait_seconds,
            max_deliver=-1,
            max_ack_pending=-1,
            inactive_threshold=self._rules.consumer_idle_seconds,
        )

    async def _unsubscribe(self, sink_sid: SinkSid) -> None:
        lock = self._fetching.get(sink_sid)
        if lock is not None and not lock.locked():
            del self._fetching[sink_sid]
        subscription = self._subscriptions.pop(sink_sid, None)
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def stop(self) -> None:
        """Bring nothing more back (on shutdown, before the lanes give back what they hold)."""
        self._intake = None
        for task in list(self._drains.values()):
            task.cancel()
        for task in list(self._drains.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sink_sid in list(self._subscriptions):
            await self._unsubscribe(sink_sid)
