"""One connected trace per event: the router's Publish (under the producer's context) →
a `route` span per event, open until JetStream answered → the message's `traceparent`
header → the worker's `deliver` span, its child — against a real nats-server and a real
HTTP receiver, the spans caught by the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from devkit.receiver import Receiver
from eventstreams.v1 import control_pb2, router_pb2
from runtime import tracing
from services.router.bus import JetStreamBus
from services.router.publishing import Publisher
from services.router.routing_table import RoutingTable
from services.router.schemas import SchemaCache
from tests.integration.test_worker import ACCOUNT, SINK, Rig, rig  # noqa: F401 - the fixture
from tests.unit.test_router_publishing import TYPE, MemoryCatalog

pytestmark = pytest.mark.integration


def routing(on: Rig, destination: str) -> control_pb2.RoutingChanges:
    """The rig's webhook sink at `destination`, subscribed to the test type at version 1."""
    on.point_sink_at(destination)
    on.snapshot.accounts[0].subscriptions.append(
        control_pb2.RoutedSubscription(
            sid="DF" + "1" * 32,
            account_sid=ACCOUNT,
            sink_sid=SINK,
            types=[control_pb2.TypeSelector(type=TYPE, schema_version=1)],
        )
    )
    return on.snapshot


async def test_each_event_is_one_trace_from_publish_to_delivery(rig: Rig, receiver: Receiver) -> None:  # noqa: F811
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    router_tracer, worker_tracer = provider.get_tracer("router"), provider.get_tracer("delivery")

    snapshot = routing(rig, f"http://127.0.0.1:{receiver.port}/traced")
    table = RoutingTable()
    table.apply(snapshot)
    publisher = Publisher(
        SchemaCache(MemoryCatalog(), 30), table, JetStreamBus(rig.nc, rig.spec, 5), tracer=router_tracer
    )
    # The producer's own span: its context comes in the call's metadata.
    with provider.get_tracer("producer").start_as_current_span("produce") as produce:
        metadata = list(tracing.inject().items())
    events = [
        router_pb2.Event(
            id=f"EZtrace{i}",
            account_sid=ACCOUNT,
            type=TYPE,
            schema_version=1,
            source=f"/x/{i}",
            data_json=json.dumps({"name": f"n{i}"}),
        )
        for i in range(3)
    ]
    results = (await publisher.publish(events, tracing.extract_grpc(metadata))).results
    assert [r.code for r in results] == [0, 0, 0] and all(r.deliveries == 1 for r in results)

    async with rig.worker(tracer=worker_tracer):
        await receiver.wait_for(lambda r: len(r.received) >= 3)
    provider.force_flush()
    spans = exporter.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    [call] = by_name["publish"]
    assert call.kind == SpanKind.SERVER
    assert call.parent is not None and call.parent.span_id == produce.get_span_context().span_id
    trace_id = produce.get_span_context().trace_id
    routes = {s.attributes[tracing.EVENT_ID]: s for s in by_name["route"]}
    delivers = {s.attributes[tracing.EVENT_ID]: s for s in by_name["deliver"]}
    assert set(routes) == set(delivers) == {e.id for e in events}
    for event in events:
        route, deliver = routes[event.id], delivers[event.id]
        # publish → route → (JetStream, the header) → deliver: one trace, each the child of the last.
        assert route.parent is not None and route.parent.span_id == call.context.span_id
        assert deliver.parent is not None and deliver.parent.span_id == route.context.span_id
        assert {call.context.trace_id, route.context.trace_id, deliver.context.trace_id} == {trace_id}
        assert deliver.attributes[tracing.SINK_SID] == SINK
        assert deliver.attributes[tracing.OUTCOME] == "Ack"
        assert deliver.kind == SpanKind.CONSUMER and route.kind == SpanKind.PRODUCER
        # The route span lasted until JetStream had acknowledged; delivery came after it.
        assert route.end_time is not None and deliver.end_time is not None
        assert route.end_time <= deliver.end_time
    # What the receiver got carries no trace header of ours: the CloudEvent is Twilio's.
    assert all("traceparent" not in r.headers for r in receiver.received)


async def test_an_unsampled_call_costs_no_span_and_no_header(rig: Rig, receiver: Receiver) -> None:  # noqa: F811
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    table = RoutingTable()
    table.apply(routing(rig, f"http://127.0.0.1:{receiver.port}/untraced"))
    bus = JetStreamBus(rig.nc, rig.spec, 5)
    publisher = Publisher(SchemaCache(MemoryCatalog(), 30), table, bus, tracer=provider.get_tracer("router"))
    event = router_pb2.Event(
        id="EZuntraced",
        account_sid=ACCOUNT,
        type=TYPE,
        schema_version=1,
        source="/x",
        data_json='{"name": "n"}',
    )
    assert [r.code for r in (await publisher.publish([event])).results] == [0]
    stored = await rig.nc.jetstream().get_msg(rig.spec.name, 1)
    assert stored.headers is not None and "traceparent" not in stored.headers
    assert exporter.get_finished_spans() == ()
