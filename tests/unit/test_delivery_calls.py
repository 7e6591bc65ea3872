"""`call_sink`: one call to a sink, its failure mapped to one outcome per event — the same for
the lanes and the ordered lanes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from runtime.sids import SinkSid
from services.delivery.errors import InternalError, Misconfigured, ServerError
from services.delivery.scheduling.calls import call_sink
from services.delivery.sinks.base import Limits, Outcome, SinkEvent

pytestmark = pytest.mark.unit

SINK = SinkSid("DG" + "b" * 32)
EVENTS = [SinkEvent(f"E{i}", "com.twilio.x", "AC" + "a" * 32, b"{}") for i in range(3)]


@dataclass
class Scripted:
    """A sink whose prepare or deliver raises what it is given, or answers `outcomes`."""

    prepare_raises: BaseException | None = None
    deliver_raises: BaseException | None = None
    outcomes: Sequence[Outcome] | None = None
    limits: Limits = field(default_factory=lambda: Limits(10, 10_000, 1000))

    def size(self, event: SinkEvent) -> int:
        return len(event.payload)

    async def prepare(self) -> None:
        if self.prepare_raises is not None:
            raise self.prepare_raises

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        if self.deliver_raises is not None:
            raise self.deliver_raises
        return self.outcomes if self.outcomes is not None else [Outcome(status=200)] * len(events)

    async def close(self) -> None:
        return None


async def test_the_sinks_outcomes_come_back_as_they_are() -> None:
    answered = [
        Outcome(status=200),
        Outcome(error=ServerError("no", status=500), status=500),
        Outcome(status=202),
    ]
    assert list(await call_sink(Scripted(outcomes=answered), SINK, EVENTS)) == answered


@pytest.mark.parametrize(
    "sink",
    [
        Scripted(prepare_raises=ServerError("down", status=503)),
        Scripted(deliver_raises=ServerError("down", status=503)),
    ],
    ids=["prepare", "deliver"],
)
async def test_a_sink_failure_is_every_events_outcome_with_its_status(sink: Scripted) -> None:
    outcomes = await call_sink(sink, SINK, EVENTS)
    assert len(outcomes) == 3
    assert all(isinstance(o.error, ServerError) and o.status == 503 for o in outcomes)


async def test_a_permanent_sink_failure_stays_permanent() -> None:
    outcomes = await call_sink(Scripted(prepare_raises=Misconfigured("bad credentials")), SINK, EVENTS[:1])
    assert [type(o.error) for o in outcomes] == [Misconfigured]


async def test_anything_else_raised_is_an_internal_error_for_every_event() -> None:
    outcomes = await call_sink(Scripted(deliver_raises=KeyError("bug")), SINK, EVENTS)
    assert len(outcomes) == 3
    assert all(isinstance(o.error, InternalError) and "bug" in o.error.message for o in outcomes)


async def test_a_driver_answering_the_wrong_number_of_outcomes_is_an_internal_error() -> None:
    outcomes = await call_sink(Scripted(outcomes=[Outcome(status=200)]), SINK, EVENTS)
    assert len(outcomes) == 3
    assert all(isinstance(o.error, InternalError) for o in outcomes)
