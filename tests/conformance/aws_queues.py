"""What the AWS sink types read back through an SQS queue share in their tests (SNS, SQS,
EventBridge): each a `Kind` — how a target is made in moto and read back, the write action
the fault-injecting proxy fails, its limits — held to tier 1 by a `QueueWorld` and to tier 2
by a `QueueHarness`. A type's own test modules add what only it has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sink_configs import from_dict
from runtime.sinks import eventbridge, sns, sqs
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.base import SinkDriver, SinkSpec
from tests.conformance import driver_suite, harness
from tests.conformance.harness import BehindProxy
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUBLISH_BATCH, PUT_EVENTS, SEND_MESSAGE_BATCH, AwsProxy
from tests.support.moto_server import MotoServer


def _queue(url: str, fifo: bool) -> tuple[str, str]:
    arn = moto_targets.create_queue(url, fifo)
    return arn, arn


def _bus(url: str, fifo: bool) -> tuple[str, str]:
    assert not fifo, "an event bus has no FIFO kind"
    return moto_targets.create_bus(url)


def _details(queue: moto_targets.QueueReader) -> list[dict[str, Any]]:
    return moto_targets.BusReader(queue).details()


@dataclass(frozen=True)
class Kind:
    sink_type: str
    action: str  # the write call, as the proxy names it
    make: Callable[[str, bool], tuple[str, str]]  # (moto's URL, FIFO) → (the sink's ARN, its queue's)
    read: Callable[[moto_targets.QueueReader], list[dict[str, Any]]]  # the CloudEvents that arrived
    max_per_call: int
    max_bytes: int
    event_overhead: int = 0  # what the sink adds to each CloudEvent within max_bytes

    @property
    def max_event_bytes(self) -> int:
        return self.max_bytes - self.event_overhead


_bodies = moto_targets.QueueReader.bodies
SNS = Kind("sns", PUBLISH_BATCH, moto_targets.create_topic, _bodies, sns.MAX_MESSAGES_PER_CALL, sns.MAX_BYTES)
SQS = Kind("sqs", SEND_MESSAGE_BATCH, _queue, _bodies, sqs.MAX_MESSAGES_PER_CALL, sqs.MAX_BYTES)
# An entry's Source and DetailType (≈ 80 bytes) beside the CloudEvent.
EVENTBRIDGE = Kind(
    "eventbridge", PUT_EVENTS, _bus, _details, eventbridge.MAX_ENTRIES_PER_CALL, eventbridge.MAX_BYTES, 1024
)


async def make_target(
    kind: Kind, moto: MotoServer, fifo: bool, external_id: str
) -> tuple[dict[str, Any], moto_targets.QueueReader]:
    """A fresh target and a role trusting `external_id`: the sink's configuration, and the
    queue its events are read back from."""
    arn, queue = await asyncio.to_thread(kind.make, moto.url, fifo)
    role = await asyncio.to_thread(moto_server.create_role, moto.url, external_id)
    return {"arn": arn, "role_arn": role, "external_id": external_id}, moto_targets.QueueReader(
        moto.url, queue
    )


def inject(proxy: AwsProxy, kind: Kind, fault: str, count: int | None) -> None:
    """A fault on the kind's write call; a timeout is a stall that outlasts the sink's."""
    if fault == "timeout":
        proxy.fail("delay", count, delay_seconds=harness.STALL_SECONDS, action=kind.action)
    else:
        proxy.fail(fault, count, action=kind.action)


@dataclass
class QueueWorld:
    """Tier 1 (`driver_suite.DriverWorld`): the driver against moto behind a proxy of its own."""

    kind: Kind
    moto: MotoServer
    proxy: AwsProxy
    driver: SinkDriver
    impatient: SinkDriver
    fifo: bool = False
    queues: dict[str, moto_targets.QueueReader] = field(default_factory=dict)  # by the sink's ARN
    partial_failures: bool = True
    expect: dict[str, driver_suite.Expect] = field(
        default_factory=lambda: {
            "throttle": driver_suite.Expect(91302, True),
            "server": driver_suite.Expect(91306, True),
            "not_found": driver_suite.Expect(91305, False),
            "access_denied": driver_suite.Expect(91305, False),
            "timeout": driver_suite.Expect(91308, True),
        }
    )

    async def spec(self) -> SinkSpec:
        external_id = f"ext-{self.kind.sink_type}"
        config, queue = await make_target(self.kind, self.moto, self.fifo, external_id)
        self.queues[config["arn"]] = queue
        sid = "DG" + f"{len(self.queues):032d}"
        return SinkSpec(
            sid=sid,
            account_sid=driver_suite.ACCOUNT,
            config=from_dict(self.kind.sink_type, config),
            auth_token="",
        )

    def queue(self, spec: SinkSpec) -> moto_targets.QueueReader:
        return self.queues[spec.config.as_dict()["arn"]]

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.kind.read, self.queue(spec))

    def inject(self, fault: str, count: int | None = 1) -> None:
        inject(self.proxy, self.kind, fault, count)

    def clear(self) -> None:
        self.proxy.clear()
        self.proxy.calls.clear()

    def calls(self) -> list[tuple[int, int]]:
        return self.proxy.calls_of(self.kind.action)

    def role_assumed(self) -> int:
        return len(self.proxy.sts_calls)

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(credentials, "due", lambda expires, now: True)


@dataclass
class QueueHarness(BehindProxy):
    """Tier 2 (`harness.Harness`): a standard target in moto, the whole platform writing to it
    through the suite's proxy."""

    kind: Kind
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""
    queue: moto_targets.QueueReader | None = None
    partial_failures: bool = True
    assumes_role: bool = True
    expect: dict[str, harness.Expect] = field(
        default_factory=lambda: {
            "throttle": harness.Expect(91302, True),
            "server": harness.Expect(91306, True),
            "reject": harness.Expect(91305, False),  # the target is gone: a dead letter
            "timeout": harness.Expect(91308, True),
            "refused": harness.Expect(91307, True),
        }
    )

    @property
    def name(self) -> str:
        return self.kind.sink_type

    @property
    def sink_type(self) -> str:
        return self.kind.sink_type

    @property
    def max_event_bytes(self) -> int:
        return self.kind.max_event_bytes

    @property
    def max_call_bytes(self) -> int:
        return self.kind.max_bytes

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.calls.clear()
        config, self.queue = await make_target(self.kind, self.moto, False, self.external_id)
        return config

    def events(self) -> list[dict[str, Any]]:
        return self.kind.read(self.queue) if self.queue else []

    def inject(self, fault: str, count: int | None = None) -> None:
        inject(self.proxy, self.kind, {"reject": "not_found"}.get(fault, fault), count)

    def calls_within_limits(self) -> bool:
        calls = self.proxy.calls_of(self.kind.action)
        return all(0 < n <= self.kind.max_per_call and size <= self.kind.max_bytes for n, size in calls)


async def opened(kind: Kind, moto: MotoServer, proxy: AwsProxy) -> AsyncIterator[QueueHarness]:
    """A tier 2 module's `harness` fixture, closed after its test."""
    made = QueueHarness(kind, moto, proxy)
    yield made
    await made.close()
