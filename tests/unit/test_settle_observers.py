"""A call's settlements are observed once per call (settle.py's SettleObserver): the metrics
and the usage it leaves are what each event settled on its own would have left, and events
settled before one that could not be are still observed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from runtime.metrics import Metrics
from services.delivery.errors import Rejected, ServerError
from services.delivery.intake.envelope import Envelope
from services.delivery.settling.decision import Happened, HeldBack, RetryRules, SinkState
from services.delivery.settling.metrics import DeliveryMetrics
from services.delivery.settling.settle import Settler
from services.delivery.settling.usage import UsageMeter
from services.delivery.sinks.base import Outcome, SinkEvent

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "a" * 32
SINK = "DG" + "b" * 32
NOW = 1_000_000.0


@dataclass
class Msg:
    fails: bool = False
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        if self.fails:
            raise ConnectionError("the connection is gone")
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


class Journal:
    def attempt(self, attempt: object) -> None:
        return None

    async def dead_letter(self, letter: object) -> None:
        return None


class Usage(UsageMeter):
    def __init__(self) -> None:
        super().__init__(None, lambda sink_sid: ACCOUNT, lambda sink_sid: "webhook")  # type: ignore[arg-type]
        self.counted: list[tuple[str, int]] = []

    def delivered(self, sink_sid: str, count: int = 1, when: float | None = None) -> None:
        self.counted.append((sink_sid, count))


def envelope(delivered: int, stored_ago: float, msg: Msg | None = None) -> Envelope:
    return Envelope(
        msg or Msg(),  # type: ignore[arg-type]
        SINK,
        SinkEvent(f"EV{delivered}", "com.example", ACCOUNT, b"{}"),
        delivered,
        NOW - stored_ago,
        "",
        0.0,
        f"events.{ACCOUNT}.{SINK}",
    )


# (times delivered, seconds since stored, what happened)
CALL: list[tuple[int, float, Happened]] = [
    (1, 0.004, Outcome(status=200)),  # delivered: a first attempt and a success
    (2, 0.3, Outcome(status=200)),  # delivered: a success only
    (1, 0.004, Outcome(error=ServerError("503", status=503), status=503)),  # retried, first attempt
    (3, 7.0, Outcome(error=ServerError("503", status=503), status=503)),  # retried
    (1, 0.004, Outcome(error=Rejected("400", status=400), status=400)),  # dead letter, first attempt
    (1, 0.004, HeldBack()),  # handed back unattempted: not counted
]


def rig() -> tuple[Settler, Metrics, Usage]:
    metrics = Metrics("delivery")
    usage = Usage()
    observers = (DeliveryMetrics(metrics, lambda sink_sid: "webhook", clock=lambda: NOW), usage)
    return Settler(Journal(), RetryRules(), clock=lambda: NOW, observers=observers), metrics, usage  # type: ignore[arg-type]


def figures(metrics: Metrics) -> dict[str, float | None]:
    value = metrics.registry.get_sample_value
    events = "es_delivery_events_total"
    return {
        "delivered": value(events, {"sink_type": "webhook", "outcome": "delivered", "error_code": ""}),
        "retried": value(events, {"sink_type": "webhook", "outcome": "retried", "error_code": "91306"}),
        "dead": value(events, {"sink_type": "webhook", "outcome": "dead_lettered", "error_code": "91305"}),
        "first": value("es_delivery_first_attempt_seconds_count", {"sink_type": "webhook"}),
        "first_sum": value("es_delivery_first_attempt_seconds_sum", {"sink_type": "webhook"}),
        "success": value("es_delivery_success_seconds_count", {"sink_type": "webhook"}),
    }


async def test_a_call_is_observed_as_its_events_one_by_one() -> None:
    one_by_one, metrics_one, usage_one = rig()
    for delivered, ago, happened in CALL:
        await one_by_one.settle(envelope(delivered, ago), happened, SinkState())
    by_call, metrics_call, usage_call = rig()
    await by_call.settle_call(
        [envelope(delivered, ago) for delivered, ago, _ in CALL], [h for _, _, h in CALL], SinkState()
    )
    assert figures(metrics_call) == figures(metrics_one)
    assert figures(metrics_call) == {
        "delivered": 2.0,
        "retried": 2.0,
        "dead": 1.0,
        "first": 3.0,
        "first_sum": pytest.approx(0.012),
        "success": 2.0,
    }
    assert sum(count for _, count in usage_call.counted) == sum(count for _, count in usage_one.counted) == 2
    assert usage_call.counted == [(SINK, 2)]


async def test_events_settled_before_one_that_could_not_be_are_still_acknowledged_and_observed() -> None:
    settler, metrics, usage = rig()
    envelopes = [
        envelope(1, 0.004),
        envelope(1, 0.004),
        envelope(1, 0.004, Msg(fails=True)),
        envelope(1, 0.004),
    ]
    failed = Outcome(error=ServerError("503", status=503), status=503)
    with pytest.raises(ConnectionError):
        await settler.settle_call(
            envelopes, [Outcome(status=200)] * 2 + [failed, Outcome(status=200)], SinkState()
        )
    assert [e.msg.settled for e in envelopes] == [["ack"], ["ack"], [], []]  # type: ignore[attr-defined]
    assert figures(metrics)["delivered"] == 2.0
    assert figures(metrics)["retried"] is None
    assert usage.counted == [(SINK, 2)]
