"""Per-sink lanes: the isolation between sinks.

Messages from the shared consumer are dispatched to one lane per sink. A lane has its own
queue, its own concurrency, its own throttle and its own batching (by the limits its sink
declares), so a sink that times out, fails or is throttled only ever slows itself: what it
cannot take soon goes back to JetStream (held back) and is not kept in memory, and a
failing sink is probed by one call at a time, paced, until it answers again. What a sink
that is down cannot take is parked (the outage room), and pulled back in as it answers
again. A throttled sink's cap is the fleet's: a lane paces its calls at this worker's share
of it and adopts a cap another worker set (caps.py, fleet.py).

The Dispatcher keeps the lanes (lane.py) and is where events come in and go out; the jobs
are modules of their own, wired here at construction: how much a lane may hold and send
(allowance.py, over capacity.py's reckoning), the sending loop (sending.py: batching.py's
calls, calls.py's one sink call, what a call's outcomes say of the sink), the hand-off to the
settler (handoff.py) and what is reported of the lanes (reports.py). What waits too long in
a lane, and when a down sink's parked event is tried, is the outage room's to watch, through
the lanes this class lends it. What happens to each event afterwards is `decision.decide`'s
to say and `Settler`'s to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from runtime.routing_demand import AccountReach, EveryAccountHeld
from runtime.sids import SinkSid
from services.delivery.directory import SinkDirectory
from services.delivery.errors import SchemaMismatch
from services.delivery.intake.envelope import Envelope
from services.delivery.intake.room import Room
from services.delivery.scheduling import reports
from services.delivery.scheduling.allowance import Allowance
from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.fleet import Alone, FleetView
from services.delivery.scheduling.handoff import Handoff
from services.delivery.scheduling.lane import Lane, LaneReport, LaneRules
from services.delivery.scheduling.sending import NothingParked, ParkedEvents, Sender
from services.delivery.settling.decision import HeldBack, SinkState
from services.delivery.settling.settle import Settler
from services.delivery.sinks.base import Outcome

__all__ = ["Dispatcher", "NothingParked", "ParkedEvents"]


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
        self._lanes: dict[SinkSid, Lane] = {}
        self._directory = directory
        self._room = room
        self._rules = rules
        self._caps = FleetCaps(fleet or Alone(), rules.throttle, clock)
        self._allowance = Allowance(directory, room, rules, self._caps, clock)
        self._handoff = Handoff(settler, room, self._allowance)
        self._sender = Sender(
            self._lanes,
            directory,
            self._allowance,
            self._handoff,
            self._caps,
            rules,
            accounts or EveryAccountHeld(),
            parked or NothingParked(),
            clock,
        )

    # Coming in

    def offer(self, envelope: Envelope) -> None:
        self._room.take(1)
        if envelope.failure:
            self._handoff.settle_later([envelope], Outcome(error=SchemaMismatch(f"event {envelope.failure}")))
            return
        lane = self._lanes.get(envelope.sink_sid)
        if lane is None:
            lane = self._lanes[envelope.sink_sid] = Lane(envelope.sink_sid)
            self._caps.adopt(lane)
        lane.queue.append(envelope)
        if self._allowance.over_capacity(lane):
            lane.queue.pop()
            self._handoff.settle_later([envelope], HeldBack(), lane)
            return
        self._sender.pump(lane)

    def spare(self, sink_sid: SinkSid) -> int | None:
        """How many more events the sink's lane would take now (parked ones coming back);
        None unless the sink is known to answer (down, or not heard from lately)."""
        return self._allowance.spare(sink_sid, self._lanes.get(sink_sid))

    def paused(self, sink_sid: SinkSid) -> bool:
        """Its owner paused it: its parked events stay parked, none is tried."""
        return self._directory.paused(sink_sid)

    # The lanes, lent to the outage room

    def lane(self, sink_sid: SinkSid) -> Lane | None:
        return self._lanes.get(sink_sid)

    def lanes(self) -> list[Lane]:
        return list(self._lanes.values())

    def hand_back(self, lane: Lane, envelopes: Sequence[Envelope]) -> None:
        """Events the lane held too long go back to JetStream (the hold watch's)."""
        self._handoff.settle_later(envelopes, HeldBack(), lane)

    def forget_idle_lanes(self) -> None:
        """Idle lanes go after a while, so many sinks do not mean much memory; until then a
        lane remembers its sink's pace (and so how much it may hold) across quiet moments."""
        limit = time.monotonic() - self._rules.idle_forget_seconds
        for sid, lane in list(self._lanes.items()):
            if lane.idle_since is not None and lane.idle_since <= limit:
                del self._lanes[sid]

    # Reports

    def lane_states(self) -> list[str]:
        """Each lane's state: failing (an outage), throttled (a cap on its calls), healthy."""
        return [reports.state_of(lane) for lane in self._lanes.values()]

    def lane_reports(self) -> list[LaneReport]:
        """What this worker knows of each sink it holds a lane for (health, metrics)."""
        return reports.lane_reports(self._lanes.values(), self._caps)

    def sink_state(self, sink_sid: SinkSid) -> SinkState | None:
        """What this worker knows of a sink now (None: nothing, it has no lane)."""
        lane = self._lanes.get(sink_sid)
        return self._allowance.state(lane) if lane is not None else None

    # Shutdown

    async def drain(self, timeout: float) -> None:
        """Give back what is only queued (others take it at once), finish what is in flight."""
        for lane in list(self._lanes.values()):
            for timer in (lane.timer, lane.gathering):
                if timer is not None:
                    timer.cancel()
            lane.timer = lane.gathering = None
            while lane.queue:
                envelope = lane.queue.popleft()
                self._room.give(1)
                await envelope.msg.nak()
        await self._handoff.finish(timeout)
