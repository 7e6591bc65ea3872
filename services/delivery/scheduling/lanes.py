"""Per-sink lanes: the isolation between sinks.

Messages from the shared consumer are dispatched to one lane per sink. A lane has its own
queue, its own concurrency, its own throttle and its own batching (by the limits its sink
declares), so a sink that times out, fails or is throttled only ever slows itself: what it
cannot take soon goes back to JetStream (held back) and is not kept in memory, and a
failing sink is probed by one call at a time, paced, until it answers again. What a sink
that is down cannot take is parked (outage/parking.py), and pulled back in as it answers
again. A throttled sink's cap is the fleet's: a lane paces its calls at this worker's share
of it and adopts a cap another worker set (caps.py, fleet.py).

The Dispatcher keeps the lanes (lane.py) and runs them; how much a lane may hold is
capacity.py's to reckon, what a call carries batching.py's, the call itself calls.py's.
What happens to each event afterwards is `decision.decide`'s to say and `Settler`'s to do.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from runtime.routing_demand import AccountReach, EveryAccountHeld
from runtime.sids import SinkSid
from services.delivery.directory import Route, SinkDirectory
from services.delivery.errors import SchemaMismatch
from services.delivery.intake.envelope import Envelope
from services.delivery.intake.room import Room
from services.delivery.scheduling import batching, capacity, throttle
from services.delivery.scheduling.calls import call_sink
from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.fleet import Alone, FleetView
from services.delivery.scheduling.lane import Lane, LaneReport, LaneRules
from services.delivery.scheduling.unknown import routed_ahead, unusable
from services.delivery.settling import decision
from services.delivery.settling.decision import HeldBack, SinkState, UnknownSink
from services.delivery.settling.settle import Settler
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


class Dispatcher:
    def __init__(
        self,
        directory: SinkDirectory,
        settler: Settler,
        room: Room,
        rules: LaneRules,
        parked: ParkedEvents | None = None,
        clock: Callable[[], float] = time.time,
        fleet: FleetView | None = None,
        accounts: AccountReach | None = None,
    ) -> None:
        self._caps = FleetCaps(fleet or Alone(), rules.throttle, clock)
        self._accounts: AccountReach = accounts or EveryAccountHeld()
        # Sinks whose lanes wait for their account's routing to be read.
        self._reading: set[str] = set()
        self._directory = directory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parked = parked or NothingParked()
        self._settler = settler
        self._room = room
        self._rules = rules
        self._clock = clock
        self._lanes: dict[SinkSid, Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # Intake

    def offer(self, envelope: Envelope) -> None:
        self._room.take(1)
        if envelope.failure:
            self._settle_later([envelope], Outcome(error=SchemaMismatch(f"event {envelope.failure}")))
            return
        lane = self._lanes.get(envelope.sink_sid)
        if lane is None:
            lane = self._lanes[envelope.sink_sid] = Lane(envelope.sink_sid)
            self._caps.adopt(lane)
        lane.queue.append(envelope)
        if self._over_capacity(lane):
            lane.queue.pop()
            self._settle_later([envelope], HeldBack(), lane)
            return
        self._pump(lane)

    def _over_capacity(self, lane: Lane) -> bool:
        """Whether the lane holds more than `_capacity` — answered, when it can be, from the
        last capacity worked out (`capacity.within`), as an event arrives (working it out was
        ~6 % of a worker's instructions per event)."""
        queued = len(lane.queue)
        inputs = (
            self._directory.route(lane.sink_sid),
            lane.limiter,
            self._caps.seen,
            lane.failing_since,
            lane.latency,
            lane.done.rate,
            lane.per_call,
        )
        if capacity.within(lane.capacity_seen, inputs, queued):
            return False
        most = self._capacity(lane)
        lane.capacity_seen = (inputs, queued, most)
        return queued > most

    def _capacity(self, lane: Lane) -> int:
        """How many events the lane may queue (`capacity.capacity`)."""
        if lane.failing:  # asked as often as a failing lane sheds: answered before a route is read
            return self._rules.failing_buffer
        route = self._directory.route(lane.sink_sid)
        return capacity.capacity(
            self._rules,
            self._room.size,
            lane.failing,
            self._caps.cap(lane),
            self._per_call(lane, route),
            self._concurrency(lane, route),
            lane.latency,
            lane.done.rate,
        )

    def lane_states(self) -> list[str]:
        """Each lane's state: failing (an outage), throttled (a cap on its calls), healthy."""
        return [report.state for report in self.lane_reports()]

    def lane_reports(self) -> list[LaneReport]:
        """What this worker knows of each sink it holds a lane for (health, metrics)."""
        return [
            LaneReport(
                lane.sink_sid,
                "failing" if lane.failing else "throttled" if lane.limiter.cap is not None else "healthy",
                self._caps.cap(lane),
                lane.failing_since,
                len(lane.queue) + lane.in_flight,
            )
            for lane in self._lanes.values()
        ]

    def sink_state(self, sink_sid: SinkSid) -> SinkState | None:
        """What this worker knows of a sink now (None: nothing, it has no lane)."""
        lane = self._lanes.get(sink_sid)
        return self.state(lane) if lane is not None else None

    def spare(self, sink_sid: SinkSid) -> int | None:
        """How many more events the sink's lane would take now (parked ones coming back);
        None unless the sink is known to answer (down, or not heard from lately)."""
        route = self._directory.route(sink_sid)
        if route is None or route.sink is None:  # deleted or unusable: settled at once, in full
            return min(self._room.free, self._rules.unmeasured_buffer)
        lane = self._lanes.get(sink_sid)
        if lane is None or lane.failing or lane.latency == 0.0:  # no call has returned yet
            return None
        return max(0, min(self._room.free, self._capacity(lane) - len(lane.queue)))

    def probe_due(self, sink_sid: SinkSid) -> bool:
        """Whether a parked event should be tried: the sink is down, no probe of its own
        traffic is queued or in flight, and its pause between probes is over."""
        lane = self._lanes.get(sink_sid)
        if lane is None:
            return True
        idle = not lane.queue and lane.in_flight == 0
        return lane.failing and idle and self._clock() >= lane.probe_at

    def _per_call(self, lane: Lane, route: Route | None = None) -> float:
        """Events the lane's next call carries (`capacity.per_call`)."""
        route = route or self._directory.route(lane.sink_sid)
        max_events = None if route is None or route.sink is None else route.sink.limits.max_events
        return capacity.per_call(lane.per_call, max_events, len(lane.queue))

    def _concurrency(self, lane: Lane, route: Route | None = None) -> int:
        if lane.failing:
            return self._rules.probe_concurrency
        route = route or self._directory.route(lane.sink_sid)
        if route is not None and route.sink is not None and route.sink.limits.max_events > 1:
            return self._rules.batch_concurrency
        return self._rules.concurrency

    def state(self, lane: Lane) -> SinkState:
        now = self._clock()
        return SinkState(
            outage_seconds=now - lane.failing_since if lane.failing_since is not None else 0.0,
            throttle_cap=self._caps.cap(lane),
            queued=len(lane.queue),
            per_call=self._per_call(lane),
            call_seconds=lane.latency,
            concurrency=self._concurrency(lane),
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # The loop's own create_task: asyncio.create_task asks for the running loop, a
        # getpid() system call per call on Python 3.11.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _settle_later(
        self, envelopes: Sequence[Envelope], happened: decision.Happened, lane: Lane | None = None
    ) -> None:
        state = self.state(lane) if lane is not None else SinkState()
        self._spawn(self._settle(envelopes, happened, state))

    async def _settle(
        self, envelopes: Sequence[Envelope], happened: decision.Happened, state: SinkState
    ) -> None:
        try:
            await self._settler.settle_call(envelopes, [happened] * len(envelopes), state)
        finally:
            self._room.give(len(envelopes))

    # Sending

    def _pump(self, lane: Lane) -> None:
        self._caps.catch_up(self._lanes.values())
        if lane.sink_sid in self._reading:
            return
        route = self._directory.route(lane.sink_sid)
        if route is None and lane.queue and not self._accounts.holds(lane.queue[0].event.account_sid):
            self._reading.add(lane.sink_sid)
            self._spawn(self._read_account(lane, lane.queue[0].event.account_sid))
            return
        if route is None or route.sink is None:
            envelopes = list(lane.queue)
            lane.queue.clear()
            happened = unusable(route, self._directory, lane.sink_sid)
            if happened is not None:
                self._settle_later(envelopes, happened, lane)
            else:
                for behind, group in self._by_revision(envelopes).items():
                    self._settle_later(group, UnknownSink(behind), lane)
            self._forget_if_idle(lane)
            return
        sink = route.sink
        limit = self._concurrency(lane, route)
        while lane.queue and lane.in_flight < limit and lane.timer is None:
            now = self._clock()
            if lane.failing and now < lane.probe_at:
                self._sleep(lane, lane.probe_at - now)
                return
            batch = self._take(lane, sink)
            if not batch:
                continue
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
            lane.flying.append(batch)
            self._spawn(self._deliver(lane, sink, batch))
        self._forget_if_idle(lane)

    async def _read_account(self, lane: Lane, account_sid: str) -> None:
        """The lane's events wait while their account's routing is read (held on demand)."""
        try:
            found = await self._accounts.ensure([account_sid])
        finally:
            self._reading.discard(lane.sink_sid)
        if found:
            self._pump(lane)
            return
        # Control could not be asked: the events come back, as for a sink not seen yet.
        envelopes = list(lane.queue)
        lane.queue.clear()
        self._settle_later(envelopes, UnknownSink(True), lane)
        self._forget_if_idle(lane)

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
            self._settle_later([head], Outcome(error=unfit), lane)
            return []
        return batching.next_call(lane.queue, sink)

    def _sleep(self, lane: Lane, seconds: float) -> None:
        lane.timer = asyncio.get_running_loop().call_later(max(0.0, seconds), self._wake, lane)

    def _wake(self, lane: Lane) -> None:
        lane.timer = None
        self._pump(lane)

    def _forget_if_idle(self, lane: Lane) -> None:
        idle = not lane.queue and not lane.in_flight and not lane.failing and not lane.limiter.throttled
        lane.idle_since = (lane.idle_since or time.monotonic()) if idle and lane.timer is None else None

    def forget_idle_lanes(self) -> None:
        """Idle lanes go after a while, so many sinks do not mean much memory; until then a
        lane remembers its sink's pace (and so how much it may hold) across quiet moments."""
        limit = time.monotonic() - self._rules.idle_forget_seconds
        for sid, lane in list(self._lanes.items()):
            if lane.idle_since is not None and lane.idle_since <= limit:
                del self._lanes[sid]

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
            self._learn(lane, outcomes)
            state = self.state(lane)
            latency_ms = int(elapsed * 1000)
            await self._settler.settle_call(batch, outcomes, state, latency_ms)
        finally:
            self._room.give(len(batch))
            self._shed(lane)
            self._pump(lane)

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
        while len(lane.queue) > self._capacity(lane):
            excess.append(lane.queue.pop())
        if excess:
            self._settle_later(excess, HeldBack(), lane)

    # Holding

    async def run_hold_watch(self) -> None:
        """Nothing waits in a worker past the hold time: a restricted lane hands it back,
        a healthy one tells JetStream it is still being worked on."""
        period = max(0.1, self._rules.hold_seconds / 3)
        while True:
            await asyncio.sleep(period)
            await self.check_holds()
            self.forget_idle_lanes()

    async def check_holds(self) -> None:
        limit = time.monotonic() - self._rules.hold_seconds
        for lane in list(self._lanes.values()):
            # A call in flight this long (credentials, then the call, each with its timeout)
            # is still being worked on: JetStream must not hand its events to another worker.
            for envelope in [e for batch in lane.flying for e in batch if e.held_since <= limit]:
                envelope.held_since = time.monotonic()
                await envelope.msg.in_progress()
            if not lane.queue or lane.queue[0].held_since > limit:
                continue
            if lane.failing or lane.limiter.throttled:
                stale = [e for e in lane.queue if e.held_since <= limit]
                lane.queue = deque(e for e in lane.queue if e.held_since > limit)
                self._settle_later(stale, HeldBack(), lane)
                continue
            now = time.monotonic()
            for envelope in lane.queue:
                if envelope.held_since <= limit:
                    envelope.held_since = now
                    await envelope.msg.in_progress()

    # Shutdown

    async def drain(self, timeout: float) -> None:
        """Give back what is only queued (others take it at once), finish what is in flight."""
        for lane in list(self._lanes.values()):
            if lane.timer is not None:
                lane.timer.cancel()
                lane.timer = None
            while lane.queue:
                envelope = lane.queue.popleft()
                self._room.give(1)
                await envelope.msg.nak()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
