"""Tier 1 of the sink conformance suite: a sink type's driver alone against its real server
(moto, a broker, a stand-in API), fast — no platform processes. Each sink type's module
subclasses `DriverConformance` and provides a `world` fixture (a `DriverWorld`); the tests
here hold every driver to one behaviour:

- one event, delivered and read back as sent;
- a call at the event limit and a call at the byte limit, taken by the real server;
- an event at the per-event limit delivered, one byte over it refused before any call;
- each failure class mapped to its code, retryable or not;
- a call failing in part answered per event (where the target answers per event);
- concurrent calls, nothing lost or doubled;
- credentials expiring: assumed again, and delivery goes on.

Tier 2 (`suite.py`) runs the same sink type through the real worker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from runtime.sids import AccountSid, EventId
from services.delivery.errors import DeliveryError
from services.delivery.scheduling.batching import take
from services.delivery.sinks.base import Outcome, Sink, SinkDriver, SinkEvent, SinkSpec

TYPE = "com.twilio.messaging.message.delivered"
ACCOUNT = AccountSid("AC" + "0" * 31 + "1")


@dataclass(frozen=True)
class Expect:
    code: int
    retryable: bool


class DriverWorld(Protocol):
    @property
    def driver(self) -> SinkDriver:
        """Patient enough for a loaded machine."""
        ...

    @property
    def impatient(self) -> SinkDriver:
        """The same type's driver, giving up after 1 s: the one the timeout fault is for."""
        ...

    # By fault name (the world's `inject` knows them): what the driver must make of it.
    expect: dict[str, Expect]
    partial_failures: bool  # the target answers per event, so a call can fail in part

    async def spec(self) -> SinkSpec:
        """A sink of a fresh target of its own."""
        ...

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        """The CloudEvents that arrived at the sink's target, duplicates included."""
        ...

    def inject(self, fault: str, count: int | None = 1) -> None: ...

    def clear(self) -> None: ...

    def calls(self) -> list[tuple[int, int]]:
        """Every write call the target saw: (events, bytes as the target counts them)."""
        ...

    def role_assumed(self) -> int:
        """How often the role was assumed (0 for a sink without credentials that expire)."""
        ...

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make every credential the driver holds count as expiring from now on."""
        ...


def event(body_bytes: int = 0, order_key: str = "", event_id: str = "") -> SinkEvent:
    event_id = event_id or str(uuid.uuid4())
    cloud = {
        "specversion": "1.0",
        "type": TYPE,
        "source": "/2010-04-01/Accounts/" + ACCOUNT,
        "id": event_id,
        "datacontenttype": "application/json",
        "time": "2026-12-07T10:00:00Z",
        "data": {"body": "x" * body_bytes},
    }
    return SinkEvent(
        EventId(event_id), TYPE, ACCOUNT, json.dumps(cloud, separators=(",", ":")).encode(), order_key
    )


def sized(sink: Sink, target: int, order_key: str = "") -> SinkEvent:
    """An event the sink counts as exactly `target` bytes."""
    made = event(order_key=order_key)
    grown = event(max(0, target - sink.size(made)), order_key=order_key)
    assert sink.size(grown) == target, (sink.size(grown), target)
    return grown


async def outcomes(sink: Sink, events: Sequence[SinkEvent]) -> list[Outcome]:
    """The call's outcomes; a call that failed as a whole, the same error for every event."""
    try:
        await sink.prepare()
        return list(await sink.deliver(events))
    except DeliveryError as exc:
        return [Outcome(error=exc)] * len(events)


async def read_until(
    world: DriverWorld, spec: SinkSpec, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = await world.read(spec)
        if done(got):
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"read back {len(got)} events")
        await asyncio.sleep(0.1)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["id"]) for e in events if e.get("type") == TYPE]


class DriverConformance:
    """Subclass as `TestXxxDriver` with a `world` fixture."""

    @pytest.fixture
    async def opened(self, world: DriverWorld) -> Any:
        spec = await world.spec()
        sink = world.driver.open(spec)
        yield spec, sink
        await sink.close()
        world.clear()

    async def test_one_event(self, world: DriverWorld, opened: tuple[SinkSpec, Sink]) -> None:
        spec, sink = opened
        sent = event(body_bytes=10)
        [outcome] = await outcomes(sink, [sent])
        assert outcome.delivered, outcome.error
        [got] = await read_until(world, spec, lambda e: len(e) >= 1)
        assert got == json.loads(sent.payload)

    async def test_a_call_at_the_event_limit(self, world: DriverWorld, opened: tuple[SinkSpec, Sink]) -> None:
        spec, sink = opened
        sent = [event() for _ in range(sink.limits.max_events)]
        assert all(o.delivered for o in await outcomes(sink, sent))
        got = await read_until(world, spec, lambda e: len(e) >= len(sent))
        assert sorted(ids(got)) == sorted(e.event_id for e in sent)

    async def test_a_call_at_the_byte_limit(self, world: DriverWorld, opened: tuple[SinkSpec, Sink]) -> None:
        """As many events as the limits let one call carry, filling its bytes exactly."""
        spec, sink = opened
        limits = sink.limits
        count = min(limits.max_events, 4)
        room = limits.max_call_bytes - limits.framing.call - limits.framing.separator * (count - 1)
        each = min(room // count, limits.max_event_bytes)
        sent = [sized(sink, each) for _ in range(count - 1)]
        sent.append(sized(sink, min(room - each * (count - 1), limits.max_event_bytes)))
        assert take([sink.size(e) for e in sent], limits) == count
        assert all(o.delivered for o in await outcomes(sink, sent))
        got = await read_until(world, spec, lambda e: len(e) >= count)
        assert sorted(ids(got)) == sorted(e.event_id for e in sent)
        assert all(0 < n <= limits.max_events and size <= limits.max_call_bytes for n, size in world.calls())

    async def test_an_event_at_its_limit_goes_and_one_byte_over_is_refused(
        self, world: DriverWorld, opened: tuple[SinkSpec, Sink]
    ) -> None:
        spec, sink = opened
        limit = sink.limits.max_event_bytes
        within = sized(sink, limit)
        [outcome] = await outcomes(sink, [within])
        assert outcome.delivered, outcome.error
        await read_until(world, spec, lambda e: within.event_id in ids(e))
        # One over: the scheduler refuses it as too large (batching.unfit) before any call.
        assert sink.size(sized(sink, limit + 1)) > limit

    @pytest.mark.parametrize("fault", ["throttle", "server", "not_found", "access_denied", "timeout"])
    async def test_each_failure_is_mapped_to_its_class(
        self, fault: str, world: DriverWorld, opened: tuple[SinkSpec, Sink]
    ) -> None:
        spec, sink = opened
        expect = world.expect.get(fault)
        if expect is None:
            pytest.skip(f"{world.driver.sink_type} has no {fault} failure")
        if fault == "timeout":
            sink = world.impatient.open(spec)
        await sink.prepare()
        world.inject(fault, 1)
        sent = event()
        [outcome] = await outcomes(sink, [sent])
        assert outcome.error is not None
        assert (outcome.error.code, outcome.error.retryable) == (expect.code, expect.retryable), outcome.error
        if expect.retryable:
            [again] = await outcomes(sink, [sent])
            assert again.delivered, again.error
            await read_until(world, spec, lambda e: sent.event_id in ids(e))
        if fault == "timeout":
            await sink.close()

    async def test_a_call_failing_in_part_is_answered_per_event(
        self, world: DriverWorld, opened: tuple[SinkSpec, Sink]
    ) -> None:
        spec, sink = opened
        if not world.partial_failures:
            pytest.skip(f"{world.driver.sink_type} answers a call as a whole")
        await sink.prepare()
        sent = [event() for _ in range(min(10, sink.limits.max_events))]
        world.inject("partial", 1)
        answered = await outcomes(sink, sent)
        delivered = {e.event_id for e, o in zip(sent, answered, strict=True) if o.delivered}
        failed = [o.error for o in answered if not o.delivered]
        assert delivered and failed and all(e is not None and e.retryable for e in failed)
        got = await read_until(world, spec, lambda e: len(e) >= len(delivered))
        await asyncio.sleep(0.2)
        assert sorted(ids(await world.read(spec))) == sorted(delivered) == sorted(ids(got))

    async def test_concurrent_calls_lose_and_double_nothing(
        self, world: DriverWorld, opened: tuple[SinkSpec, Sink]
    ) -> None:
        spec, sink = opened
        calls = [[event() for _ in range(sink.limits.max_events)] for _ in range(8)]
        answered = await asyncio.gather(*(outcomes(sink, call) for call in calls))
        assert [o.error for call in answered for o in call if o.error] == []
        expected = sorted(e.event_id for call in calls for e in call)
        got = await read_until(world, spec, lambda e: len(e) >= len(expected))
        assert sorted(ids(got)) == expected

    async def test_credentials_expiring_are_renewed(
        self, world: DriverWorld, opened: tuple[SinkSpec, Sink], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spec, sink = opened
        [first] = await outcomes(sink, [event()])
        assert first.delivered, first.error
        before = world.role_assumed()
        if before == 0:
            pytest.skip(f"{world.driver.sink_type} holds no credentials that expire")
        world.expire_credentials(monkeypatch)
        [second] = await outcomes(sink, [event()])
        assert second.delivered, second.error
        assert world.role_assumed() > before
        await read_until(world, spec, lambda e: len(e) >= 2)
