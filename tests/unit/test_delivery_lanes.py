"""Lane scheduling with fakes at the ports (messages, sink, journal): per-event outcomes,
limits, oversize events, a slow sink's bounded share, paced probing of a failing sink, and
the hold watch. No I/O; short real sleeps stand in for a sink's latency."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.aio.msg import Msg

from eventstreams.v1 import control_pb2
from runtime.routing import whole_table
from runtime.stream_codec import StreamEvent, headers
from services.delivery.directory import SinkDirectory
from services.delivery.errors import ServerError, Throttled
from services.delivery.intake.envelope import Envelope
from services.delivery.intake.room import Room
from services.delivery.outage.holds import HoldWatch
from services.delivery.scheduling.allowance import Allowance
from services.delivery.scheduling.caps import FleetCaps
from services.delivery.scheduling.fleet import Alone, Cap, FleetView
from services.delivery.scheduling.lane import Lane, LaneRules
from services.delivery.scheduling.lanes import Dispatcher
from services.delivery.scheduling.throttle import Throttle
from services.delivery.settling.decision import RetryRules, SinkState
from services.delivery.settling.journal import Attempt, DeadLetter
from services.delivery.settling.settle import Settler
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "a" * 32
SINK = "DG" + "b" * 32


@dataclass
class FakeMsg:
    subject: str
    settled: list[tuple[str, float | None]] = field(default_factory=list)
    progress: int = 0

    async def ack(self) -> None:
        self.settled.append(("ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append(("nak", delay))

    async def term(self) -> None:
        self.settled.append(("term", None))

    async def in_progress(self) -> None:
        self.progress += 1


Deliver = Callable[[Sequence[SinkEvent]], Awaitable[Sequence[Outcome]]]


async def all_delivered(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
    return [Outcome(status=200)] * len(events)


@dataclass
class FakeSink:
    limits: Limits
    script: Deliver = all_delivered
    calls: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def size(self, event: SinkEvent) -> int:
        return len(event.payload)

    async def prepare(self) -> None:
        return None

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        self.calls.append([e.event_id for e in events])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self.script(events)
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        return None


@dataclass
class FakeDriver:
    sink: FakeSink
    sink_type: str = "webhook"

    def open(self, spec: SinkSpec) -> FakeSink:
        return self.sink

    async def close(self) -> None:
        return None


@dataclass
class FakeJournal:
    attempts: list[Attempt] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)

    def attempt(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


@dataclass
class World:
    sink: FakeSink
    journal: FakeJournal
    room: Room
    dispatcher: Dispatcher
    directory: SinkDirectory
    driver: FakeDriver
    rules: LaneRules
    messages: list[FakeMsg] = field(default_factory=list)

    def lane(self) -> Lane:
        lane = self.dispatcher.lane(SINK)
        assert lane is not None
        return lane

    def offer(self, count: int, payload: bytes = b'{"id":"x"}', first: int = 0) -> None:
        for i in range(first, first + count):
            msg = FakeMsg(f"events.{ACCOUNT}.{SINK}")
            self.messages.append(msg)
            envelope = Envelope(
                msg=msg,  # type: ignore[arg-type]
                sink_sid=SINK,
                event=SinkEvent(f"EZ{i}", "com.example", ACCOUNT, payload),
                delivered=1,
                stored_at=time.time(),
                failure="",
                held_since=time.monotonic(),
                subject=msg.subject,
            )
            self.dispatcher.offer(envelope)

    def settled(self, kind: str) -> list[FakeMsg]:
        return [m for m in self.messages if m.settled and m.settled[-1][0] == kind]


def snapshot(revision: int = 1, destination: str = "https://example.com/") -> control_pb2.RoutingChanges:
    config = json.dumps({"destination": destination, "method": "POST"})
    return whole_table(
        revision=revision,
        accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t")],
        sinks=[
            control_pb2.RoutedSink(
                sid=SINK, account_sid=ACCOUNT, sink_type="webhook", configuration_json=config
            )
        ],
    )


def world(
    sink: FakeSink,
    fleet: FleetView | None = None,
    room_size: int = 4096,
    routing: control_pb2.RoutingChanges | None = None,
    **rules: Any,
) -> World:
    """`routing`: the worker's snapshot (else one routing `sink` at revision 1)."""
    driver = FakeDriver(sink)
    directory = SinkDirectory({"webhook": driver})  # type: ignore[dict-item]
    directory.apply(routing if routing is not None else snapshot())
    journal = FakeJournal()
    room = Room(room_size)
    retry = RetryRules(base_seconds=1.0, max_delay_seconds=300.0)
    lane_rules = LaneRules(retry=retry, **rules)
    dispatcher = Dispatcher(directory, Settler(journal, retry), room, lane_rules, fleet=fleet)
    return World(sink, journal, room, dispatcher, directory, driver, lane_rules)


async def settle_all(w: World, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while w.room.held and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert w.room.held == 0


ONE = Limits(max_events=1, max_call_bytes=1000, max_event_bytes=1000)


async def test_a_partial_failure_acks_what_was_delivered_and_retries_only_the_rest() -> None:
    async def odd_ones_fail(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        return [Outcome(error=ServerError("no")) if int(e.event_id[2:]) % 2 else Outcome() for e in events]

    w = world(FakeSink(Limits(10, 10_000, 1000), odd_ones_fail), batch_concurrency=1)
    w.offer(4)
    await settle_all(w)
    assert [m.settled[-1][0] for m in w.messages] == ["ack", "nak", "ack", "nak"]
    assert [(a.event_id, a.outcome, a.error_code) for a in w.journal.attempts] == [
        ("EZ0", "delivered", None),
        ("EZ1", "retrying", 91306),
        ("EZ2", "delivered", None),
        ("EZ3", "retrying", 91306),
    ]


async def test_calls_follow_the_sinks_limits() -> None:
    w = world(FakeSink(Limits(max_events=3, max_call_bytes=9999, max_event_bytes=99)), batch_concurrency=1)
    w.offer(7)
    await settle_all(w)
    assert [len(c) for c in w.sink.calls] == [1, 3, 3]  # the first went at once, alone
    assert len(w.settled("ack")) == 7


async def test_an_event_too_large_for_its_sink_is_a_recorded_dead_letter_never_sent() -> None:
    w = world(FakeSink(Limits(max_events=10, max_call_bytes=99, max_event_bytes=20)), batch_concurrency=1)
    w.offer(1, payload=b"x" * 21)
    w.offer(1, payload=b"x" * 20, first=1)
    await settle_all(w)
    assert w.sink.calls == [["EZ1"]]
    [letter] = w.journal.letters
    assert (letter.event_id, letter.error_code) == ("EZ0", 91300)
    assert "21 bytes is larger than the sink takes (20 bytes)" in letter.reason
    assert w.messages[0].settled == [("term", None)]


async def test_a_slow_sink_holds_no_more_than_it_delivers_within_the_hold_time() -> None:
    async def slow(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        await asyncio.sleep(0.1)
        return [Outcome(status=200)] * len(events)

    # Hold time 1 s; 2 calls of 0.1 s at once: 20 events/s, so about 20 held.
    w = world(FakeSink(ONE, slow), concurrency=2, ack_wait_seconds=3.0, failing_buffer=4)
    w.offer(2)
    await asyncio.sleep(0.15)  # its pace is measured
    w.offer(500, first=2)
    await asyncio.sleep(0.05)  # the hand-backs are settled
    assert w.room.held <= 40
    handed_back = w.settled("nak")
    assert len(handed_back) >= 450
    assert all(delay is not None and delay >= 0.5 for m in handed_back for _, delay in m.settled)


async def test_a_batching_sink_measured_on_one_event_calls_takes_a_burst_at_what_its_calls_carry() -> None:
    async def steady(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        await asyncio.sleep(0.1)
        return [Outcome(status=200)] * len(events)

    # Hold time 1 s; 2 calls of 0.1 s at once, measured on one-event calls: 20 events/s if
    # calls stayed that small. They carry up to 100 events: 2,000 events/s, the burst's
    # 500 within the hold time — none is handed back for a slow sink's delay.
    w = world(FakeSink(Limits(100, 100_000, 1000), steady), batch_concurrency=2, ack_wait_seconds=3.0)
    w.offer(1)
    await asyncio.sleep(0.15)  # its pace is measured, on a call of one event
    w.offer(500, first=1)
    await settle_all(w)
    assert w.settled("nak") == []
    assert len(w.settled("ack")) == 501
    assert max(len(call) for call in w.sink.calls) == 100


async def test_a_failing_sink_is_probed_by_one_paced_call_at_a_time() -> None:
    async def down(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        return [Outcome(error=ServerError("down", status=500))] * len(events)

    w = world(FakeSink(ONE, down), concurrency=8, failing_buffer=4)
    w.offer(50)
    await asyncio.sleep(1.0)
    assert w.sink.most_in_flight <= 8  # the first burst, before it was known to fail
    calls_after_first_second = len(w.sink.calls)
    await asyncio.sleep(1.0)
    # Probes at most every 0.2 s once failing (not a request-rate storm over the backlog).
    assert len(w.sink.calls) - calls_after_first_second <= 6
    assert w.room.held <= 4 + 1
    assert len(w.settled("nak")) >= 40


async def test_the_hold_watch_marks_long_waits_in_progress_on_a_healthy_sink() -> None:
    gate = asyncio.Event()

    async def blocked(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        await gate.wait()
        return [Outcome(status=200)] * len(events)

    w = world(FakeSink(ONE, blocked), concurrency=1, ack_wait_seconds=0.3)
    w.offer(3)
    await asyncio.sleep(0.15)
    await HoldWatch(w.dispatcher, w.rules).check_holds()
    assert [m.progress for m in w.messages] == [1, 1, 1]  # the one in flight and the queued ones
    gate.set()
    await settle_all(w)


async def test_the_hold_watch_hands_back_what_a_failing_sink_still_holds() -> None:
    async def down(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        return [Outcome(error=ServerError("down", status=500))] * len(events)

    w = world(FakeSink(ONE, down), concurrency=1, ack_wait_seconds=0.3, failing_buffer=50)
    w.offer(20)
    await asyncio.sleep(0.15)
    held_before = w.room.held
    await HoldWatch(w.dispatcher, w.rules).check_holds()
    await asyncio.sleep(0.05)
    assert held_before > 5
    assert w.room.held <= 1


def flaky(fail_until: list[float], error: ServerError | Throttled) -> Deliver:
    async def respond(events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        if time.monotonic() < fail_until[0]:
            return [Outcome(error=error)] * len(events)
        return [Outcome(status=200)] * len(events)

    return respond


async def test_an_outage_leaves_no_throttle_behind_once_the_sink_answers() -> None:
    fail_until = [time.monotonic() + 0.6]
    w = world(FakeSink(ONE, flaky(fail_until, ServerError("down", status=500))), failing_buffer=4)
    w.offer(20)
    await asyncio.sleep(0.3)
    lane = w.lane()
    assert lane.failing and lane.limiter.throttled  # the first 5xx capped it, then it was down
    await asyncio.sleep(1.0)
    w.offer(5, first=20)
    await asyncio.sleep(0.1)
    assert not lane.failing and not lane.limiter.throttled  # a clean recovery: uncapped


async def test_a_sink_that_said_429_while_down_stays_throttled() -> None:
    fail_until = [time.monotonic() + 0.6]
    w = world(FakeSink(ONE, flaky(fail_until, Throttled("slow down", status=429))), failing_buffer=4)
    w.offer(20)
    await asyncio.sleep(1.3)
    w.offer(5, first=20)
    await asyncio.sleep(0.1)
    lane = w.lane()
    assert not lane.failing and lane.limiter.cap == pytest.approx(100.0)  # Twilio's cap


@dataclass
class FakeFleet:
    """Three other workers; what they announce is set by the test."""

    others: int = 3
    version: int = 0
    announced: dict[str, Cap] = field(default_factory=dict)
    reported: list[tuple[str, float | None]] = field(default_factory=list)

    def share(self, sink_sid: str) -> float:
        return 1 / (1 + self.others)

    def newest(self, sink_sid: str) -> Cap | None:
        return self.announced.get(sink_sid)

    def report(self, sink_sid: str, limiter: Throttle) -> None:
        self.reported.append((sink_sid, limiter.cap))


async def test_a_cap_another_worker_set_holds_here_at_this_workers_share() -> None:
    fleet = FakeFleet()
    w = world(FakeSink(ONE), fleet)
    w.offer(1)
    await settle_all(w)
    before = w.dispatcher.sink_state(SINK)
    assert before is not None and before.throttle_cap is None
    fleet.announced[SINK], fleet.version = (100.0, time.time()), 1  # another worker met a 429
    started = time.monotonic()
    w.offer(10, first=1)
    await settle_all(w)
    state = w.dispatcher.sink_state(SINK)
    assert state is not None and state.throttle_cap == pytest.approx(25.0)  # 100/s over 4 workers
    assert time.monotonic() - started >= 0.3  # 10 calls at 25/s (a burst of 2.5 first)
    assert fleet.reported == [(SINK, 100.0)]  # it now holds the sink throttled too


async def test_a_cap_another_worker_still_announces_past_its_quiet_time_is_not_taken_up() -> None:
    fleet = FakeFleet(announced={SINK: (100.0, time.time() - 3600.0)})  # an hour-old 429
    w = world(FakeSink(ONE), fleet)
    w.offer(3)
    await settle_all(w)
    state = w.dispatcher.sink_state(SINK)
    assert state is not None and state.throttle_cap is None
    assert fleet.reported == []  # never held throttled here, so never announced


async def test_a_429_here_is_announced_to_the_fleet() -> None:
    fleet = FakeFleet()
    w = world(FakeSink(ONE, flaky([time.monotonic() + 0.2], Throttled("slow down", status=429))), fleet)
    w.offer(1)
    await asyncio.sleep(0.1)
    assert fleet.reported == [(SINK, 100.0)]


async def test_events_of_a_deleted_sink_are_dead_letters_at_once() -> None:
    w = world(FakeSink(ONE))
    w.directory.apply(whole_table(revision=2))  # the sink is deleted
    w.offer(3)
    await settle_all(w)
    assert [m.settled for m in w.messages] == [[("term", None)]] * 3
    assert {(d.error_code, d.reason) for d in w.journal.letters} == {(91303, f"sink {SINK} was deleted")}


async def test_events_of_a_sink_not_seen_yet_are_asked_about_again() -> None:
    w = world(FakeSink(ONE), routing=whole_table(revision=1))  # a snapshot lagging the router's
    w.offer(2)
    await settle_all(w)
    assert [m.settled for m in w.messages] == [[("nak", 1.0)]] * 2
    assert w.journal.letters == []


async def test_an_attempts_record_says_what_happened_to_whom() -> None:
    journal = FakeJournal()
    parent = "AC" + "p" * 32
    settler = Settler(journal, RetryRules(), owner_of=lambda sink_sid: parent, clock=lambda: 1000.25)
    msg = FakeMsg(f"events.{ACCOUNT}.{SINK}")
    envelope = Envelope(
        msg,  # type: ignore[arg-type]
        SINK,
        SinkEvent("EZ7", "com.example", ACCOUNT, b"{}"),
        delivered=2,
        stored_at=1000.0,
        failure="",
        held_since=0.0,
        subject=msg.subject,
    )
    await settler.settle(envelope, Outcome(error=ServerError("receiver failed", status=503)), SinkState(), 40)
    assert journal.attempts == [
        Attempt(
            account_sid=parent,
            sink_sid=SINK,
            event_id="EZ7",
            type="com.example",
            attempt=2,
            outcome="retrying",
            status_code=503,
            latency_ms=40,
            error_code=91306,
            error="receiver failed",
            date_created=1000.25,
            source_account_sid=ACCOUNT,
            age_ms=250,
        )
    ]


def test_an_envelope_is_what_its_message_says() -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    parked = StreamEvent("EZ9", "com.example", stored_at=1000.5, delivered=2, revision=7, trace=trace)
    msg = Msg(
        _client=None,  # type: ignore[arg-type]  # never used: nothing is settled
        subject=f"parked.events.{ACCOUNT}.{SINK}",
        reply="$JS.ACK.EVENTS_PARKED.delivery.3.1042.977.1764657789123456789.12",
        data=b"{}",
        headers=headers(parked, "park:EVENTS:1"),
    )
    before = time.monotonic()
    envelope = Envelope.of(msg)
    assert envelope.msg is msg and envelope.sink_sid == SINK
    assert envelope.event == SinkEvent("EZ9", "com.example", ACCOUNT, b"{}")
    assert (envelope.delivered, envelope.stored_at) == (2 + 3, 1000.5)  # before parking, and since
    assert (envelope.failure, envelope.subject, envelope.revision, envelope.trace) == (
        "",
        f"events.{ACCOUNT}.{SINK}",
        7,
        trace,
    )
    assert before <= envelope.held_since <= time.monotonic()
    assert (envelope.size, envelope.unfit) == (-1, None)


@pytest.mark.parametrize("seed", range(8))
def test_a_lane_is_over_capacity_exactly_when_its_capacity_worked_out_afresh_says_so(seed: int) -> None:
    # The check as each event arrives answers from the last capacity worked out when it can:
    # through any walk of the lane's pace, throttle, outage, queue and sink limits, it says
    # what working the capacity out afresh says.
    rng = random.Random(seed)
    # A short hold time too: a lane may then hold less than a call carries.
    hold = [0.3, 3.0, 30.0][seed % 3]
    w = world(
        FakeSink(Limits(100, 100_000, 1000)),
        room_size=600,
        failing_buffer=4,
        unmeasured_buffer=64,
        ack_wait_seconds=hold,
    )
    allowance = Allowance(
        w.directory, w.room, w.rules, FleetCaps(Alone(), w.rules.throttle, time.time), time.time
    )
    lane = Lane(SINK)
    limits = [Limits(100, 100_000, 1000), Limits(10, 100_000, 1000), Limits(1, 1000, 1000)]
    for step in range(3000):
        change = rng.randrange(10)
        if change == 0:
            lane.latency = rng.choice([0.0, 0.001, 0.05, 0.5, 3.0])
        elif change == 1:
            lane.per_call = rng.choice([1.0, 7.5, 40.0, 100.0])
        elif change == 2:
            lane.done.rate = rng.choice([0.0, 10.0, 500.0, 50_000.0])
        elif change == 3:
            lane.failing_since = rng.choice([None, None, 1.0])
        elif change == 4:
            lane.limiter = rng.choice([lane.limiter, Throttle(), Throttle(cap=rng.choice([1.0, 50.0, 99.0]))])
        elif change == 5:
            # A sink's limits change with its configuration: a new sink, a new route.
            w.driver.sink = FakeSink(rng.choice(limits))
            w.directory.apply(snapshot(step + 2, f"https://example.com/{step}"))  # opened again
        elif change < 8:
            for _ in range(rng.randrange(1, 150)):
                lane.queue.append(None)  # type: ignore[arg-type]  # only its length counts
        else:
            for _ in range(min(len(lane.queue), rng.randrange(1, 200))):
                lane.queue.pop()
        assert allowance.over_capacity(lane) == (len(lane.queue) > allowance.capacity(lane)), step


def paused_snapshot(revision: int, paused: bool) -> control_pb2.RoutingChanges:
    changes = snapshot(revision)
    changes.accounts[0].sinks[0].paused = paused
    return changes


async def test_a_paused_sinks_events_are_parked_untried_and_flow_once_it_is_resumed() -> None:
    w = world(FakeSink(ONE), routing=paused_snapshot(1, paused=True))
    w.offer(3)
    await settle_all(w)
    assert w.sink.calls == []
    # No parking stream here: handed back for a while instead, and logged as parked.
    assert [m.settled for m in w.messages] == [[("nak", 30.0)]] * 3
    assert [(a.event_id, a.outcome, a.error_code) for a in w.journal.attempts] == [
        (f"EZ{i}", "parked", None) for i in range(3)
    ]
    assert w.dispatcher.spare(SINK) is None  # nothing parked is brought back while paused
    assert w.dispatcher.paused(SINK)

    w.directory.apply(paused_snapshot(2, paused=False))
    w.offer(2, first=3)
    await settle_all(w)
    assert w.sink.calls == [["EZ3"], ["EZ4"]]
    assert not w.dispatcher.paused(SINK)


async def test_a_batching_sink_at_a_steady_rate_gets_the_events_of_its_gather_time_in_one_call() -> None:
    """One event every millisecond to a sink that answers at once: each call after the first
    carries what came within the gather time, and no event waits much longer than it."""
    w = world(FakeSink(Limits(100, 100_000, 1000)), gather_seconds=0.02)
    started = time.monotonic()
    for index in range(60):
        w.offer(1, first=index)
        await asyncio.sleep(0.001)
    await settle_all(w)
    took = time.monotonic() - started
    assert len(w.settled("ack")) == 60
    assert w.sink.calls[0] == ["EZ0"]  # the first went at once, alone
    assert len(w.sink.calls) <= 1 + round(took / 0.02) + 1  # one call a gather time, about
    assert [e for call in w.sink.calls for e in call] == [f"EZ{i}" for i in range(60)]


async def test_a_lone_event_and_a_backlog_are_not_held() -> None:
    w = world(FakeSink(Limits(3, 100_000, 1000)), gather_seconds=10.0, batch_concurrency=1)
    w.offer(1)
    await settle_all(w, timeout=1.0)  # a lone event goes at once
    w.offer(7, first=1)
    await asyncio.sleep(0.2)
    # Full calls go at once; the last event, all a call would take, waits for more.
    assert [len(c) for c in w.sink.calls] == [1, 3, 3]
    assert w.room.held == 1
    await w.dispatcher.drain(timeout=1.0)
    assert len(w.settled("nak")) == 1
