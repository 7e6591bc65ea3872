"""The capacity reckoning (scheduling/capacity.py) and what becomes of an event for a sink
that cannot be delivered to (scheduling/unknown.py): pure, table-tested."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from eventstreams.v1 import control_pb2
from runtime.routing import whole_table
from runtime.routing_demand import EveryAccountHeld
from runtime.sids import AccountSid, SinkSid
from services.delivery.directory import Route, SinkDirectory
from services.delivery.errors import Misconfigured, SinkGone
from services.delivery.intake.envelope import Envelope
from services.delivery.scheduling import capacity
from services.delivery.scheduling.lane import LaneRules
from services.delivery.scheduling.unknown import routed_ahead, unusable
from services.delivery.sinks.base import Outcome, SinkEvent

pytestmark = pytest.mark.unit

# Hold time 10 s; at least 16 held; 512 before a first call returns.
RULES = LaneRules(ack_wait_seconds=30.0, failing_buffer=16, unmeasured_buffer=512)
ROOM = 10_000


@pytest.mark.parametrize(
    ("failing", "cap", "per_call", "concurrency", "latency", "rate", "expected"),
    [
        # failing: a few, whatever its pace
        (True, None, 1.0, 32, 0.01, 5000.0, 16),
        # not measured yet: room for its first calls
        (False, None, 1.0, 32, 0.0, 0.0, 512),
        # its calls in flight over their latency: 4 calls × 1 event / 0.5 s × 10 s
        (False, None, 1.0, 4, 0.5, 0.0, 80),
        # the rate seen to deliver, when higher: 50/s × 10 s
        (False, None, 1.0, 4, 0.5, 50.0, 500),
        # throttled: at its cap, 2 calls/s × 10 events × 10 s
        (False, 2.0, 10.0, 32, 0.01, 5000.0, 200),
        # a slow one still holds the buffer a failing one would
        (False, 0.1, 1.0, 32, 0.01, 0.0, 16),
        # delivering the whole room within the hold time: no limit
        (False, None, 1.0, 32, 0.01, 0.0, sys.maxsize),
    ],
)
def test_capacity(
    failing: bool,
    cap: float | None,
    per_call: float,
    concurrency: int,
    latency: float,
    rate: float,
    expected: int,
) -> None:
    assert capacity.capacity(RULES, ROOM, failing, cap, per_call, concurrency, latency, rate) == expected


@pytest.mark.parametrize(
    ("measured", "max_events", "queued", "expected"),
    [
        (1.0, None, 500, 1.0),  # the sink cannot be used: as measured
        (1.0, 1, 500, 1.0),  # one event a call
        (1.0, 100, 40, 40.0),  # a batching sink with a burst waiting: the next call's
        (1.0, 100, 500, 100.0),  # up to its limit
        (60.0, 100, 5, 60.0),  # what its calls carried lately, when more
    ],
)
def test_per_call(measured: float, max_events: int | None, queued: int, expected: float) -> None:
    assert capacity.per_call(measured, max_events, queued) == expected


@pytest.mark.parametrize(
    ("seen", "inputs", "queued", "expected"),
    [
        (None, ("a",), 5, False),  # never worked out
        ((("a",), 5, 100), ("a",), 5, True),
        ((("a",), 5, 100), ("a",), 100, True),
        ((("a",), 5, 100), ("a",), 4, False),  # shorter than then: per_call may be lower
        ((("a",), 5, 100), ("a",), 101, False),  # past it
        ((("a",), 5, 100), ("b",), 50, False),  # worked out from something else
    ],
)
def test_within(seen: capacity.Seen | None, inputs: tuple[object, ...], queued: int, expected: bool) -> None:
    assert capacity.within(seen, inputs, queued) is expected


@dataclass
class HeldAt:
    """Accounts held on demand, each read at a revision."""

    revisions: dict[str, int]

    def known_at(self, account_sid: str) -> int:
        return self.revisions.get(account_sid, 0)


def envelope(revision: int, account: str = "AC1") -> Envelope:
    event = SinkEvent("EZ1", "com.example", account, b"{}")
    return Envelope(None, "DG1", event, 1, 0.0, "", 0.0, "events.AC1.DG1", revision)  # type: ignore[arg-type]


def directory_at(revision: int) -> SinkDirectory:
    directory = SinkDirectory({})
    directory.revision = revision
    return directory


@pytest.mark.parametrize(
    ("routed_at", "snapshot", "account", "expected"),
    [
        (0, 5, 0, None),  # the event does not say
        (7, 5, 0, True),  # routed after this worker's snapshot: it may yet come
        (5, 5, 0, False),
        (7, 5, 8, False),  # the account's routing was read later than it was routed
        (9, 5, 8, True),
    ],
)
def test_routed_ahead(routed_at: int, snapshot: int, account: int, expected: bool | None) -> None:
    accounts = HeldAt({"AC1": account})
    assert routed_ahead(envelope(routed_at), directory_at(snapshot), accounts) is expected  # type: ignore[arg-type]
    if not account:
        assert routed_ahead(envelope(routed_at), directory_at(snapshot), EveryAccountHeld()) is expected


def test_an_unusable_sink_says_why_and_an_unknown_one_is_left_to_routed_ahead() -> None:
    problem = Misconfigured("bad credentials")
    route = Route(SinkSid("DG1"), AccountSid("AC1"), "webhook", None, problem, ("webhook", "{}", ""))
    directory = SinkDirectory({})
    directory.apply(whole_table(revision=1))
    assert unusable(route, directory, "DG1") == Outcome(error=problem)
    assert unusable(None, directory, "DG1") is None  # not known here
    directory.apply(
        whole_table(
            revision=2,
            accounts=[control_pb2.RoutedAccount(sid="AC1", auth_token="t")],
            sinks=[control_pb2.RoutedSink(sid="DG1", account_sid="AC1", sink_type="webhook")],
        )
    )
    directory.apply(whole_table(revision=3))  # and deleted
    happened = unusable(None, directory, "DG1")
    assert isinstance(happened, Outcome) and isinstance(happened.error, SinkGone)
