"""The sending loop of the lanes: take a lane's next call's events (batching.py), within its
concurrency and throttle (allowance.py, caps.py), call the sink (calls.py), learn from the
outcomes whether the sink answers, is overloaded or is down, and hand the events to the
settler (handoff.py); then keep no more than the lane's capacity and send on.

A sink that is down is probed by one paced call at a time, its pause between probes growing
with the outage (`decision.probe_gap`); its first answer tells the parked events' side
(`ParkedEvents`, a port this room declares and the root wires to the parking stream). A
sink its owner paused is sent nothing: its events are parked until it is resumed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from runtime.routing_demand import AccountReach
from runtime.sids import SinkSid
from services.delivery.directory import SinkDirectory
from services.delivery.intake.envelope import Envelope
from services.delivery.scheduling import batching, throttle
from services.delivery.scheduling.allowance import Allowance
from services.delivery.scheduling.calls import call_sink
from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.handoff import Handoff
from services.delivery.scheduling.lane import Lane, LaneRules
from services.delivery.scheduling.unknown import routed_ahead, unusable
from services.delivery.settling import decision
from services.delivery.settling.decision import HeldBack, Paused, UnknownSink
from services.delivery.sinks.base import Outcome, Sink


class ParkedEvents(Protocol):
    """The events parked for sinks that were down (the lanes' view of outage/parking.py)."""

    def waiting(self, sink_sid: SinkSid) -> bool: ...

    def answering(self, sink_sid: SinkSid) -> None:
        """The sink answered a call: bring its parked events back."""


class NothingParked:
    def waiting(self, sink_sid: SinkSid) -> bool:
        return False

    def answering(self, sink_sid: SinkSid) -> None:
        return None


class Sender:
    def __init__(
        self,
        lanes: Mapping[SinkSid, Lane],
        directory: SinkDirectory,
        allowance: Allowance,
        handoff: Handoff,
        caps: FleetCaps,
        rules: LaneRules,
        accounts: AccountReach,
        parked: ParkedEvents,
        clock: Callable[[], float],
    ) -> None:
        """`lanes`: every lane of the worker (the Dispatcher's), for the fleet's caps."""
        self._lanes = lanes
        self._directory = directory
        self._allowance = allowance
        self._handoff = handoff
        self._caps = caps
        self._rules = rules
        self._accounts = accounts
        self._parked = parked
        self._clock = clock
        # Sinks whose lanes wait for their account's routing to be read.
        self._reading: set[str] = set()

    def pump(self, lane: Lane) -> None:
        """Start as many of the lane's calls as it may have in flight now."""
        self._caps.catch_up(self._lanes.values())
        if lane.sink_sid in self._reading:
            return
        route = self._directory.route(lane.sink_sid)
        if route is not None and self._directory.paused(lane.sink_sid):
            # Its owner paused it: what it holds is parked, and comes back once it is resumed.
            envelopes = list(lane.queue)
            lane.queue.clear()
            if envelopes:
                self._handoff.settle_later(envelopes, Paused(), lane)
            self.forget_if_idle(lane)
            return
        if route is None and lane.queue and not self._accounts.holds(lane.queue[0].event.account_sid):
            self._reading.add(lane.sink_sid)
            self._handoff.spawn(self._read_account(lane, lane.queue[0].event.account_sid))
            return
        if route is None or route.sink is None:
            envelopes = list(lane.queue)
            lane.queue.clear()
            happened = unusable(route, self._directory, lane.sink_sid)
            if happened is not None:
                self._handoff.settle_later(envelopes, happened, lane)
            else:
                for behind, group in self._by_revision(envelopes).items():
                    self._handoff.settle_later(group, UnknownSink(behind), lane)
            self.forget_if_idle(lane)
            return
        sink = route.sink
        limit = self._allowance.concurrency(lane, route)
        while lane.queue and lane.in_flight < limit and lane.timer is None:
            now = self._clock()
            if lane.failing and now < lane.probe_at:
                self._sleep(lane, lane.probe_at - now)
                return
            batch = self._take(lane, sink)
            if not batch:
                continue
            if not lane.queue and self._gather(lane, sink, batch):
                return
            self._caps.limit(lane, throttle.relax(lane.limiter, now, self._rules.throttle))
            # The throttle counts calls: one event per call is Twilio's events/s, and a
            # batch under a cap still carries a full batch.
            share = self._caps.share(lane)
            lane.limiter, granted, wait = throttle.acquire(lane.limiter, 1, now, share)
            if granted == 0:
                lane.queue.extendleft(reversed(batch))
                self._sleep(lane, wait)
                return
            lane.in_flight += 1
            lane.last_call_at = time.monotonic()
            lane.flying.append(batch)
            self._handoff.spawn(self._deliver(lane, sink, batch))
        self.forget_if_idle(lane)

    async def _read_account(self, lane: Lane, account_sid: str) -> None:
        """The lane's events wait while their account's routing is read (held on demand)."""
        try:
            found = await self._accounts.ensure([account_sid])
        finally:
            self._reading.discard(lane.sink_sid)
        if found:
            self.pump(lane)
            return
        # Control could not be asked: the events come back, as for a sink not seen yet.
        envelopes = list(lane.queue)
        lane.queue.clear()
        self._handoff.settle_later(envelopes, UnknownSink(True), lane)
        self.forget_if_idle(lane)

    def _by_revision(self, envelopes: list[Envelope]) -> dict[bool | None, list[Envelope]]:
        """Events of a sink this worker does not know, by whether its snapshot is behind the
        router's at routing time (None: the event does not say)."""
        groups: dict[bool | None, list[Envelope]] = {}
        for envelope in envelopes:
            groups.setdefault(routed_ahead(envelope, self._directory, self._accounts), []).append(envelope)
        return groups

    def _take(self, lane: Lane, sink: Sink) -> list[Envelope]:
        """The next call's events, by the sink's limits; an event the sink cannot take (too
        large, or unreadable for it) is settled as a permanent failure on the way, never sent."""
        head = lane.queue[0]
        unfit = batching.unfit(head, sink)
        if unfit is not None:
            lane.queue.popleft()
            self._handoff.settle_later([head], Outcome(error=unfit), lane)
            return []
        return batching.next_call(lane.queue, sink)

    def _gather(self, lane: Lane, sink: Sink, batch: list[Envelope]) -> bool:
        """Whether the call of `batch` (all the lane has ready) waits for more events
        (batching.gather_wait); if so, its events are back at the head of the queue and the
        lane is pumped again when the wait is over."""
        since = time.monotonic() - lane.last_call_at
        wait = batching.gather_wait(len(batch), sink.limits.max_events, since, self._rules.gather_seconds)
        if wait <= 0.0:
            if lane.gathering is not None:
                lane.gathering.cancel()
                lane.gathering = None
            return False
        lane.queue.extendleft(reversed(batch))
        if lane.gathering is None:
            lane.gathering = asyncio.get_running_loop().call_later(wait, self._gathered, lane)
        return True

    def _gathered(self, lane: Lane) -> None:
        lane.gathering = None
        self.pump(lane)

    def _sleep(self, lane: Lane, seconds: float) -> None:
        lane.timer = asyncio.get_running_loop().call_later(max(0.0, seconds), self._wake, lane)

    def _wake(self, lane: Lane) -> None:
        lane.timer = None
        self.pump(lane)

    def forget_if_idle(self, lane: Lane) -> None:
        """Mark when the lane fell idle (nothing queued, in flight, failing, throttled or
        waiting), so it may be forgotten after a while."""
        idle = not lane.queue and not lane.in_flight and not lane.failing and not lane.limiter.throttled
        lane.idle_since = (lane.idle_since or time.monotonic()) if idle and lane.timer is None else None

    async def _deliver(self, lane: Lane, sink: Sink, batch: list[Envelope]) -> None:
        started = time.monotonic()
        outcomes = await call_sink(sink, lane.sink_sid, [e.event for e in batch])
        finished = time.monotonic()
        elapsed = finished - started
        lane.observe(elapsed, len(batch))
        lane.done.count(len(batch), finished)
        lane.in_flight -= 1
        lane.flying.remove(batch)
        try:
            try:
                self._learn(lane, outcomes)
            finally:
                await self._handoff.settle_call(batch, outcomes, lane, int(elapsed * 1000))
        finally:
            self._shed(lane)
            self.pump(lane)

    def _learn(self, lane: Lane, outcomes: Sequence[Outcome]) -> None:
        """What a call's outcomes say about its sink: answering or down, overloaded or not.

        Twilio's throttle (100 calls/s on a 429/5xx, 99 % on each further one, back after 5
        quiet minutes) is for a sink that answers under load. A sink that is down — every
        call failing — is probed instead, one paced call at a time, and its probes neither
        cut the cap nor count as load. When it answers again, the cap its outage set is
        lifted, unless it asked to slow down (a 429, a Kinesis throughput error) while it
        was down: a clean recovery flows at once, and a receiver overloaded by the backlog
        says so with 429/5xx while answering, which throttles it as Twilio does."""
        now = self._clock()
        before = lane.limiter
        answering = any(o.error is None or not o.error.retryable for o in outcomes)
        overloaded = any(o.error is not None and o.error.slows_sink for o in outcomes)
        asked_to_slow = any(o.error is not None and o.error.asks_to_slow_down for o in outcomes)
        if overloaded and not lane.failing:
            self._caps.limit(lane, throttle.on_error(lane.limiter, now, self._rules.throttle))
        if answering:
            if lane.failing and lane.before_outage is not None:
                self._caps.limit(lane, lane.before_outage)
            lane.failing_since = lane.before_outage = None
            if self._parked.waiting(lane.sink_sid):
                self._parked.answering(lane.sink_sid)
            return
        if lane.failing_since is None:
            lane.failing_since = now
            lane.before_outage = before
        if asked_to_slow:
            lane.before_outage = None
        lane.probe_at = now + decision.probe_gap(now - lane.failing_since)

    def _shed(self, lane: Lane) -> None:
        """Keep no more than the lane's capacity; the rest waits in JetStream."""
        excess: list[Envelope] = []
        while len(lane.queue) > self._allowance.capacity(lane):
            excess.append(lane.queue.pop())
        if excess:
            self._handoff.settle_later(excess, HeldBack(), lane)
