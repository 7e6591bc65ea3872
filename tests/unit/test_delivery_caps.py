"""FleetCaps: a lane's throttle as the fleet's — this worker's share, a cap it sets told to
the others once, the newest cap another worker set adopted (and relaxed as it is there)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.fleet import Alone, Cap
from services.delivery.scheduling.throttle import Throttle, ThrottleRules

pytestmark = pytest.mark.unit

SINK = "DG1"
NOW = 10_000.0


@dataclass
class Lane:
    sink_sid: str = SINK
    limiter: Throttle = field(default_factory=Throttle)


@dataclass
class Fleet:
    """This worker and three others; what they announce is set by the test."""

    version: int = 0
    announced: dict[str, Cap] = field(default_factory=dict)
    reported: list[tuple[str, float | None]] = field(default_factory=list)

    def share(self, sink_sid: str) -> float:
        return 0.25

    def newest(self, sink_sid: str) -> Cap | None:
        return self.announced.get(sink_sid)

    def report(self, sink_sid: str, limiter: Throttle) -> None:
        self.reported.append((sink_sid, limiter.cap))


def caps(fleet: Fleet) -> FleetCaps:
    return FleetCaps(fleet, ThrottleRules(), lambda: NOW)


@pytest.mark.parametrize(
    ("cap", "expected_cap", "expected_share"),
    [(None, None, 1.0), (100.0, 25.0, 0.25)],
    ids=["uncapped: all of it", "capped: this worker's part"],
)
def test_cap_and_share(cap: float | None, expected_cap: float | None, expected_share: float) -> None:
    lane = Lane(limiter=Throttle(cap=cap, last_error=NOW))
    assert caps(Fleet()).cap(lane) == expected_cap
    assert caps(Fleet()).share(lane) == expected_share


def test_a_new_cap_is_told_once_and_a_lifted_one_too() -> None:
    fleet = Fleet()
    shared, lane = caps(fleet), Lane()
    capped = Throttle(cap=100.0, last_error=NOW)
    shared.limit(lane, capped)
    shared.limit(lane, capped)  # the same: nothing new to tell
    shared.limit(lane, Throttle(cap=100.0, last_error=NOW, tokens=3.0))  # only its tokens moved
    shared.limit(lane, Throttle())
    assert lane.limiter == Throttle()
    assert fleet.reported == [(SINK, 100.0), (SINK, None)]


def test_the_newest_cap_another_worker_set_is_adopted_and_told() -> None:
    fleet = Fleet(announced={SINK: (80.0, NOW - 1.0)})
    lane = Lane()
    caps(fleet).adopt(lane)
    assert (lane.limiter.cap, lane.limiter.last_error) == (80.0, NOW - 1.0)
    assert fleet.reported == [(SINK, 80.0)]


def test_a_cap_past_its_quiet_time_is_relaxed_as_it_is_adopted() -> None:
    quiet = ThrottleRules().quiet_seconds
    fleet = Fleet(announced={SINK: (100.0, NOW - quiet - 3600.0)})  # an hour past its quiet time
    lane = Lane()
    caps(fleet).adopt(lane)
    assert lane.limiter.cap is None and fleet.reported == []


def test_catch_up_adopts_only_when_the_others_announced_something_new() -> None:
    fleet = Fleet()
    shared, lanes = caps(fleet), [Lane(), Lane("DG2")]
    fleet.announced[SINK] = (50.0, NOW)
    shared.catch_up(lanes)  # the version did not move: not looked at
    assert lanes[0].limiter.cap is None
    fleet.version = 1
    shared.catch_up(lanes)
    assert (lanes[0].limiter.cap, lanes[1].limiter.cap, shared.seen) == (50.0, None, 1)


def test_alone_the_whole_cap_is_this_workers() -> None:
    lane = Lane(limiter=Throttle(cap=100.0, last_error=NOW))
    assert FleetCaps(Alone(), ThrottleRules(), lambda: NOW).cap(lane) == 100.0
