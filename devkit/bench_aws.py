"""The bench's AWS sinks phase: an SQS, an SNS, an EventBridge and an S3 sink, each delivering
into a real moto_server, end to end (first publish → the last event read back with boto3),
one row each. The sinks are made as a customer makes them (create, Test, read the test event
back, Validate, subscribe), once per bench run; each trial publishes `count` events of the
sink's own type and reads its target until all have arrived.

Reading back is the bench's own cost, not the sink's: SQS's ReceiveMessage takes 10 messages a
call, so the figure is a floor of the sink's throughput against moto, for comparing runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit.bench_load import EventFactory, arrival_timeline, publish_fixed, publish_until_routed
from devkit.bench_setup import Rest
from eventstreams.v1 import router_pb2_grpc
from tests.support import moto_server, moto_targets

TEST_TYPE = "com.twilio.eventstreams.test-event"
# Each sink its own type: an event goes to one of them only.
TYPES = {
    "sqs": "com.twilio.messaging.inbound-message.received",
    "sns": "com.twilio.messaging.compliance.brand-registration.brand-failure",
    "eventbridge": "com.twilio.messaging.compliance.brand-registration.brand-registered",
    "s3": "com.twilio.messaging.compliance.brand-registration.brand-unverified",
}
POLL_SECONDS = 0.2


@dataclass
class AwsSink:
    kind: str
    sid: str
    read: Callable[[], list[dict[str, Any]]]  # every CloudEvent arrived so far
    setup_seconds: float


def target(kind: str, url: str) -> tuple[dict[str, Any], Callable[[], list[dict[str, Any]]]]:
    """A fresh target in moto: the sink's configuration (less the role) and its reader."""
    if kind == "sqs":
        arn = moto_targets.create_queue(url)
        return {"arn": arn}, moto_targets.QueueReader(url, arn).bodies
    if kind == "sns":
        topic, queue = moto_targets.create_topic(url)
        return {"arn": topic}, moto_targets.QueueReader(url, queue).bodies
    if kind == "eventbridge":
        bus, queue = moto_targets.create_bus(url)
        return {"arn": bus}, moto_targets.BusReader(moto_targets.QueueReader(url, queue)).details
    bucket = moto_targets.create_bucket(url)
    return {"arn": bucket, "region": moto_server.DEFAULT_REGION}, lambda: [
        line for _, lines in moto_targets.archived(url, bucket) for line in lines
    ]


async def create_sink(
    rest: Rest,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    moto_url: str,
    kind: str,
    timeout: float,
) -> AwsSink:
    started = time.monotonic()
    external_id = await rest.kinesis_external_id()
    config, read = await asyncio.to_thread(target, kind, moto_url)
    role = await asyncio.to_thread(moto_server.create_role, moto_url, external_id)
    sid = await rest.create_sink(
        f"bench {kind}", kind, {**config, "role_arn": role, "external_id": external_id}
    )
    await rest.test_sink(sid)
    deadline = time.monotonic() + timeout
    test_id = ""
    while not test_id:
        for event in await asyncio.to_thread(read):
            if event.get("type") == TEST_TYPE:
                test_id = str(event["data"]["test_id"])
        if not test_id:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} test event in {timeout:.0f} s")
            await asyncio.sleep(0.2)
    await rest.validate_sink(sid, test_id)
    await rest.subscribe(f"bench {kind}", sid, [TYPES[kind]])
    await publish_until_routed(router, factory, TYPES[kind], 1, timeout=15)
    return AwsSink(kind, sid, read, round(time.monotonic() - started, 2))


async def measure(
    sink: AwsSink,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    count: int,
    batch: int,
    concurrency: int,
    stall_seconds: float,
) -> dict[str, Any]:
    """`count` events of the sink's type, first publish → the last one read back."""
    type_name = TYPES[sink.kind]
    seen = {str(e["id"]) for e in await asyncio.to_thread(sink.read) if e.get("type") == type_name}
    first: dict[str, float] = {}
    published = await publish_fixed(router, factory, type_name, count, batch, concurrency)
    progressed = time.monotonic()
    while len(first) < published.events and time.monotonic() - progressed < stall_seconds:
        await asyncio.sleep(POLL_SECONDS)
        arrived = await asyncio.to_thread(sink.read)
        # A read drains the target call by call, seconds for a few hundred events in moto, and
        # the sink goes on delivering meanwhile: an event is known to be there when the read ends.
        now = time.time()
        for event in arrived:
            event_id = str(event.get("id"))
            if event.get("type") == type_name and event_id not in seen and event_id not in first:
                first[event_id] = now
                progressed = time.monotonic()
    received = len(first)
    complete = received >= published.events
    ended = max(first.values()) if complete and first else time.time()
    seconds = max(ended - published.started_at, 1e-9)
    return {
        "target": count,
        "received": received,
        "complete": complete,
        "seconds": round(seconds, 3),
        "events_per_second": round(received / seconds, 1),
        "setup_seconds": sink.setup_seconds,
        "timeline": arrival_timeline(published.started_at, list(first.values())),
    }
