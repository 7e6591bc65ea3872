"""A lane's throttle as the fleet's (fleet.py): the part of a sink's cap this worker may use,
a cap it sets told to the others, and the newest cap another worker set adopted here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from services.delivery.scheduling import throttle
from services.delivery.scheduling.fleet import FleetView


class Capped(Protocol):
    """A lane, as far as its throttle goes."""

    @property
    def sink_sid(self) -> str: ...

    limiter: throttle.Throttle


class FleetCaps:
    def __init__(self, fleet: FleetView, rules: throttle.ThrottleRules, clock: Callable[[], float]) -> None:
        self._fleet = fleet
        self._rules = rules
        self._clock = clock
        self.seen = fleet.version  # what the others announced, as far as the lanes have adopted it

    def cap(self, lane: Capped) -> float | None:
        """This worker's part of the sink's cap (calls/s; None: not throttled). The workers'
        parts add up to the sink's cap, as the health rows that merge them do."""
        cap = lane.limiter.cap
        return None if cap is None else cap * self._fleet.share(lane.sink_sid)

    def share(self, lane: Capped) -> float:
        """This worker's part of the lane's cap (all of it while the lane is not capped)."""
        return self._fleet.share(lane.sink_sid) if lane.limiter.cap is not None else 1.0

    def limit(self, lane: Capped, limiter: throttle.Throttle) -> None:
        """Set the lane's throttle; the fleet hears of a new cap, or of none."""
        before, lane.limiter = lane.limiter, limiter
        if limiter is not before and (limiter.cap, limiter.last_error) != (before.cap, before.last_error):
            self._fleet.report(lane.sink_sid, limiter)

    def adopt(self, lane: Capped) -> None:
        """The newest cap another worker set for the lane's sink holds here too."""
        newest = self._fleet.newest(lane.sink_sid)
        if newest is not None:
            now = self._clock()
            # Relaxed at once: a cap whose quiet time has passed (this worker lifted it a
            # moment before another did) grows back here as it does there.
            adopted = throttle.adopt(lane.limiter, *newest, now)
            self.limit(lane, throttle.relax(adopted, now, self._rules))

    def catch_up(self, lanes: Iterable[Capped]) -> None:
        """The others announced something new since the lanes last adopted: adopt it."""
        if self._fleet.version != self.seen:
            self.seen = self._fleet.version
            for lane in lanes:
                self.adopt(lane)
