"""The router never gives an error-log event to the sink it is about (its source names it):
a sink subscribed to the error log would otherwise hear of its own failures by the very
deliveries that fail. Every other sink subscribed to the type gets it."""

from __future__ import annotations

import json

import grpc
import pytest

from eventstreams.v1 import control_pb2, router_pb2
from runtime import error_logs
from runtime.routing import whole_table
from services.router.publishing import Publisher
from services.router.routing_table import RoutingTable
from services.router.schemas import SchemaCache, TypeInfo
from tests.unit.test_router_publishing import MemoryBus

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "1" * 32
FAILING, WATCHING = "DG" + "a" * 32, "DG" + "b" * 32
DOCUMENT = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"sid": {"type": "string"}, "account_sid": {"type": "string"}},
    "required": ["sid", "account_sid"],
}


class ErrorLogCatalog:
    async def event_type(self, type_name: str) -> TypeInfo | None:
        if type_name != error_logs.ERROR_LOGGED:
            return None
        return TypeInfo(type_name, error_logs.SCHEMA_ID, "available")

    async def schema_version(self, schema_id: str, version: int) -> tuple[int, str] | None:
        return 2, json.dumps(DOCUMENT)


def publisher() -> tuple[Publisher, MemoryBus]:
    table = RoutingTable()
    table.apply(
        whole_table(
            revision=1,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t" * 32)],
            sinks=[
                control_pb2.RoutedSink(sid=sid, account_sid=ACCOUNT, sink_type="webhook", status="active")
                for sid in (FAILING, WATCHING)
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid="DF" + str(n) * 32,
                    account_sid=ACCOUNT,
                    sink_sid=sink,
                    types=[control_pb2.TypeSelector(type=error_logs.ERROR_LOGGED)],
                )
                for n, sink in enumerate((FAILING, WATCHING))
            ],
        )
    )
    bus = MemoryBus()
    return Publisher(SchemaCache(ErrorLogCatalog(), 30.0), table, bus), bus


def error_event(event_id: str, source: str) -> router_pb2.Event:
    return router_pb2.Event(
        id=event_id,
        account_sid=ACCOUNT,
        type=error_logs.ERROR_LOGGED,
        schema_version=2,
        source=source,
        data_json=json.dumps({"sid": event_id, "account_sid": ACCOUNT}),
    )


@pytest.mark.parametrize(
    ("source", "sinks"),
    [
        (error_logs.source_of(FAILING), {WATCHING}),
        (error_logs.source_of(WATCHING), {FAILING}),
        # Not about a sink: every subscriber gets it.
        ("/2010-04-01/Accounts/AC1/Messages/SM1.json", {FAILING, WATCHING}),
        ("/v1/Sinks/", {FAILING, WATCHING}),
    ],
)
async def test_an_error_log_event_skips_the_sink_it_is_about(source: str, sinks: set[str]) -> None:
    router, bus = publisher()
    [result] = (await router.publish([error_event("NO" + "1" * 32, source)])).results
    assert (result.code, result.deliveries) == (grpc.StatusCode.OK.value[0], len(sinks))
    assert {m.sink_sid for m in bus.messages} == sinks


async def test_events_of_one_call_about_different_sinks_each_skip_their_own() -> None:
    router, bus = publisher()
    events = [
        error_event("NO" + "1" * 32, error_logs.source_of(FAILING)),
        error_event("NO" + "2" * 32, error_logs.source_of(WATCHING)),
    ]
    await router.publish(events)
    assert {(m.event_id, m.sink_sid) for m in bus.messages} == {
        ("NO" + "1" * 32, WATCHING),
        ("NO" + "2" * 32, FAILING),
    }


def test_sink_about_reads_the_error_log_type_only() -> None:
    assert error_logs.sink_about(error_logs.ERROR_LOGGED, error_logs.source_of(FAILING)) == FAILING
    assert error_logs.sink_about("com.twilio.messaging.message.failed", error_logs.source_of(FAILING)) is None
