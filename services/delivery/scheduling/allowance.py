"""What a lane may hold and send now: its capacity, the events its next call carries, its
calls at once, and the state `decide` judges its events by.

The reckoning itself is capacity.py's (pure); this module reads what it needs of the sink's
route, the fleet's cap and the worker's room."""

from __future__ import annotations

from collections.abc import Callable

from runtime.sids import SinkSid
from services.delivery.directory import Route, SinkDirectory
from services.delivery.intake.room import Room
from services.delivery.scheduling import capacity
from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.lane import Lane, LaneRules
from services.delivery.settling.decision import SinkState


class Allowance:
    def __init__(
        self,
        directory: SinkDirectory,
        room: Room,
        rules: LaneRules,
        caps: FleetCaps,
        clock: Callable[[], float],
    ) -> None:
        self._directory = directory
        self._room = room
        self._rules = rules
        self._caps = caps
        self._clock = clock

    def over_capacity(self, lane: Lane) -> bool:
        """Whether the lane holds more than `capacity` — answered, when it can be, from the
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
        most = self.capacity(lane)
        lane.capacity_seen = (inputs, queued, most)
        return queued > most

    def capacity(self, lane: Lane) -> int:
        """How many events the lane may queue (`capacity.capacity`)."""
        if lane.failing:  # asked as often as a failing lane sheds: answered before a route is read
            return self._rules.failing_buffer
        route = self._directory.route(lane.sink_sid)
        return capacity.capacity(
            self._rules,
            self._room.size,
            lane.failing,
            self._caps.cap(lane),
            self.per_call(lane, route),
            self.concurrency(lane, route),
            lane.latency,
            lane.done.rate,
        )

    def spare(self, sink_sid: SinkSid, lane: Lane | None) -> int | None:
        """How many more events the sink's lane would take now (parked ones coming back);
        None unless the sink is known to answer (down, paused, or not heard from lately)."""
        route = self._directory.route(sink_sid)
        if route is not None and self._directory.paused(sink_sid):  # nothing comes back while paused
            return None
        if route is None or route.sink is None:  # deleted or unusable: settled at once, in full
            return min(self._room.free, self._rules.unmeasured_buffer)
        if lane is None or lane.failing or lane.latency == 0.0:  # no call has returned yet
            return None
        return max(0, min(self._room.free, self.capacity(lane) - len(lane.queue)))

    def per_call(self, lane: Lane, route: Route | None = None) -> float:
        """Events the lane's next call carries (`capacity.per_call`)."""
        route = route or self._directory.route(lane.sink_sid)
        max_events = None if route is None or route.sink is None else route.sink.limits.max_events
        return capacity.per_call(lane.per_call, max_events, len(lane.queue))

    def concurrency(self, lane: Lane, route: Route | None = None) -> int:
        """Calls the lane may have in flight: one probe at a time to a failing sink, fewer
        to a batching one (so ready events gather into full batches)."""
        if lane.failing:
            return self._rules.probe_concurrency
        route = route or self._directory.route(lane.sink_sid)
        if route is not None and route.sink is not None and route.sink.limits.max_events > 1:
            return self._rules.batch_concurrency
        return self._rules.concurrency

    def state(self, lane: Lane) -> SinkState:
        """What `decide` knows of the lane's sink as it judges an event."""
        now = self._clock()
        return SinkState(
            outage_seconds=now - lane.failing_since if lane.failing_since is not None else 0.0,
            throttle_cap=self._caps.cap(lane),
            queued=len(lane.queue),
            per_call=self.per_call(lane),
            call_seconds=lane.latency,
            concurrency=self.concurrency(lane),
        )
