"""The schema registry through the real suite: a type registered at run time, evolved under its
compatibility mode, projected to the subscribers pinned to older versions, discontinued — each
change reaching the running router without a restart (catalog's revision feed)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc, control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, subscribe

pytestmark = pytest.mark.e2e

BASE_URL = "https://events-schemas.twilio.com"
V1: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderSid": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
        "status": {"enum": ["placed", "paid"]},
    },
    "required": ["orderSid", "total"],
    "additionalProperties": False,
}
# Compatible under FULL: an optional field, the closed model drops it for v1 subscribers.
V2 = {**V1, "properties": {**V1["properties"], "currency": {"type": "string"}}}
# Incompatible under FULL: `total` widened (v1 accepts only integers) and `orderSid` dropped
# (v1 requires it).
V3 = {
    **V2,
    "properties": {k: v for k, v in V2["properties"].items() if k != "orderSid"}
    | {"total": {"type": "number"}},
    "required": ["total"],
}


@pytest.fixture
async def catalog(suite: Suite) -> AsyncIterator[catalog_pb2_grpc.CatalogAsyncStub]:
    async with suite.channel("catalog") as channel:
        yield catalog_pb2_grpc.CatalogStub(channel)


def names() -> tuple[str, str]:
    tag = secrets.token_hex(4)
    return f"com.acme{tag}.order.placed", f"Acme{tag}.Order"


def event(account_sid: str, type_name: str, version: int, data: dict[str, Any]) -> router_pb2.Event:
    event_id = "EZ" + secrets.token_hex(16)
    return router_pb2.Event(
        id=event_id,
        account_sid=account_sid,
        type=type_name,
        schema_version=version,
        source=f"/acme/orders/{event_id}",
        data_json=json.dumps(data),
    )


async def within(seconds: float, attempt: Callable[[], Awaitable[bool]]) -> float:
    """How long until `attempt()` holds (failing after `seconds`)."""
    started = time.monotonic()
    while not await attempt():
        assert time.monotonic() - started < seconds, f"not within {seconds}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def refused(call: Awaitable[Any], code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    return str(raised.value.details())


async def versions(catalog: catalog_pb2_grpc.CatalogAsyncStub, schema_id: str) -> list[int]:
    found = await catalog.ListSchemaVersions(catalog_pb2.ListSchemaVersionsRequest(id=schema_id))
    return [v.version for v in found.versions]


async def test_register_evolve_project_refuse_and_discontinue(
    catalog: catalog_pb2_grpc.CatalogAsyncStub,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    type_name, schema_id = names()
    registered = await catalog.RegisterEventType(
        catalog_pb2.RegisterEventTypeRequest(
            type=type_name,
            schema_id=schema_id,
            description="Acme: order placed",
            document_json=json.dumps(V1),
        )
    )
    assert registered.event_type.status == "available" and registered.schema_version.version == 1
    assert json.loads(registered.schema_version.document_json)["$id"] == f"{BASE_URL}/{schema_id}/1"
    mode = await catalog.GetCompatibility(catalog_pb2.CompatibilityRequest(schema_id=schema_id))
    assert (mode.mode, mode.overridden) == ("FULL", False)

    # The router learns the new type and its latest version (v1) from the catalog.
    pinned = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/v1")
    subscription = await subscribe(rest, pinned["sid"], type_name, version=1)
    order = {"orderSid": "OR1", "total": 10, "status": "placed"}
    await publish_when_routed(router, [event(account.sid, type_name, 0, order)])

    v2 = await catalog.RegisterSchemaVersion(
        catalog_pb2.RegisterSchemaVersionRequest(schema_id=schema_id, document_json=json.dumps(V2))
    )
    assert v2.schema_version.version == 2 and v2.report.compatible and v2.report.mode == "FULL"
    assert json.loads(v2.schema_version.document_json)["$id"] == f"{BASE_URL}/{schema_id}/2"
    # A retried registration answers the version it made.
    again = await catalog.RegisterSchemaVersion(
        catalog_pb2.RegisterSchemaVersionRequest(schema_id=schema_id, document_json=json.dumps(V2))
    )
    assert again.schema_version.version == 2 and await versions(catalog, schema_id) == [1, 2]

    # "Latest" moves to v2 in the running router well within its 30 s cache: data with
    # `currency` (which v1 refuses) is accepted at version 0.
    with_currency = {**order, "currency": "EUR"}

    async def latest_is_v2() -> bool:
        response = await router.Publish(
            router_pb2.PublishRequest(events=[event(account.sid, type_name, 0, with_currency)]), timeout=10
        )
        return response.results[0].code == 0

    assert await within(2.0, latest_is_v2) < 2.0
    newest = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/latest")
    await subscribe(rest, newest["sid"], type_name)  # pinned at subscribe time: v2
    published = event(account.sid, type_name, 2, {**with_currency, "orderSid": "OR2"})
    await within(5.0, lambda: _routed_to(router, published, 2))

    def delivered(path: str) -> list[dict[str, Any]]:
        return [
            e
            for r in receiver.received
            if urlsplit(r.url).path == path
            for e in r.events()
            if e["id"] == published.id
        ]

    await receiver.wait_for(lambda r: bool(delivered("/v1")) and bool(delivered("/latest")), timeout=20)
    [at_v1] = delivered("/v1")
    assert at_v1["dataschema"] == f"{BASE_URL}/{schema_id}/1"
    assert at_v1["data"] == {"orderSid": "OR2", "total": 10, "status": "placed"}  # no currency
    [at_v2] = delivered("/latest")
    assert at_v2["dataschema"] == f"{BASE_URL}/{schema_id}/2" and at_v2["data"]["currency"] == "EUR"

    # An incompatible version: refused, explained, nothing stored.
    report = await catalog.RegisterSchemaVersion(
        catalog_pb2.RegisterSchemaVersionRequest(
            schema_id=schema_id, document_json=json.dumps(V3), dry_run=True
        )
    )
    assert report.dry_run and not report.report.compatible and report.schema_version.version == 3
    assert {(i.direction, i.version, i.kind, i.path) for i in report.report.incompatibilities} >= {
        ("FORWARD", 1, "required", "orderSid"),
        ("FORWARD", 1, "type", "total"),
        ("FORWARD", 2, "required", "orderSid"),
    }
    message = await refused(
        catalog.RegisterSchemaVersion(
            catalog_pb2.RegisterSchemaVersionRequest(schema_id=schema_id, document_json=json.dumps(V3))
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert message == report.report.message
    assert message.startswith("incompatible with FULL against version 2 (FORWARD: subscribers pinned to v2")
    assert "field `orderSid` is required by v1 but absent from the new version" in message
    assert "type of `total`: the new version allows number, v1 accepts only integer" in message
    assert await versions(catalog, schema_id) == [1, 2]

    # Discontinued: Publish refused by the running router within a second or so; the
    # subscription stays readable.
    discontinued = await catalog.DiscontinueEventType(catalog_pb2.DiscontinueEventTypeRequest(type=type_name))
    assert discontinued.status == "discontinued"

    async def publish_refused() -> bool:
        response = await router.Publish(
            router_pb2.PublishRequest(events=[event(account.sid, type_name, 2, with_currency)]), timeout=10
        )
        result = response.results[0]
        if result.code == 0:
            return False
        assert result.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert result.message == f"event type {type_name} is discontinued"
        return True

    assert await within(2.0, publish_refused) < 2.0
    fetched = await rest.get(f"/v1/Subscriptions/{subscription['sid']}")
    assert fetched.status_code == 200, fetched.text
    listed = await rest.get(f"/v1/Subscriptions/{subscription['sid']}/SubscribedEvents")
    assert [(e["type"], e["schema_version"]) for e in listed.json()["types"]] == [(type_name, 1)]
    shown = await rest.get(f"/v1/Types/{type_name}")
    assert shown.status_code == 200 and shown.json()["status"] == "discontinued"


async def _routed_to(
    router: router_pb2_grpc.RouterAsyncStub, published: router_pb2.Event, sinks: int
) -> bool:
    response = await router.Publish(router_pb2.PublishRequest(events=[published]), timeout=10)
    return response.results[0].code == 0 and response.results[0].deliveries == sinks


async def test_a_version_that_cannot_be_projected_is_the_old_subscribers_dead_letter(
    catalog: catalog_pb2_grpc.CatalogAsyncStub,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    """Under NONE the registry lets a version drop a field v1 requires: an event at it cannot
    be shaped for v1, so the v1 subscriber gets a recorded dead letter, not a silent drop."""
    type_name, schema_id = names()
    await catalog.RegisterEventType(
        catalog_pb2.RegisterEventTypeRequest(
            type=type_name, schema_id=schema_id, document_json=json.dumps(V1), compatibility="NONE"
        )
    )
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/v1")
    await subscribe(rest, sink["sid"], type_name, version=1)
    v3 = await catalog.RegisterSchemaVersion(
        catalog_pb2.RegisterSchemaVersionRequest(schema_id=schema_id, document_json=json.dumps(V3))
    )
    assert v3.schema_version.version == 2 and v3.report.mode == "NONE"
    published = event(account.sid, type_name, 2, {"total": 1.5, "status": "paid"})

    async def answered_with_the_dead_letter() -> bool:
        # Publish says so (once the subscription has reached the router): FAILED_PRECONDITION
        # naming the sink, the event stored as that sink's dead letter.
        [result] = (await router.Publish(router_pb2.PublishRequest(events=[published]), timeout=10)).results
        return (
            result.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
            and sink["sid"] in result.message
            and result.dead_letters == 1
        )

    await within(5.0, answered_with_the_dead_letter)

    deadline = time.monotonic() + 20
    while True:
        letters = (await rest.get(f"/v1/Sinks/{sink['sid']}/DeadLetters")).json()["dead_letters"]
        if letters or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    [letter] = letters
    assert letter["event_id"] == published.id and letter["error_code"] == 91303
    assert f"cannot be projected to {schema_id} v1" in letter["reason"]
    assert receiver.received == []


async def test_bad_registrations_are_refused_and_change_nothing(
    catalog: catalog_pb2_grpc.CatalogAsyncStub,
) -> None:
    type_name, schema_id = names()
    invalid, found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND

    def register(**fields: str) -> Awaitable[Any]:
        request = {"type": type_name, "schema_id": schema_id, "document_json": json.dumps(V1)} | fields
        return catalog.RegisterEventType(catalog_pb2.RegisterEventTypeRequest(**request))

    assert "not JSON" in await refused(register(document_json="{"), invalid)
    assert "not a valid draft-07 JSON Schema at `properties/total/type`" in await refused(
        register(document_json='{"type": "object", "properties": {"total": {"type": "int"}}}'), invalid
    )
    assert "root is a JSON array" in await refused(register(document_json="[]"), invalid)
    assert '"type": "object"' in await refused(register(document_json='{"type": "string"}'), invalid)
    assert "unknown compatibility mode 'STRICT'" in await refused(register(compatibility="STRICT"), invalid)
    assert "reserved" in await refused(register(type="com.twilio.acme.order"), invalid)
    assert "give document_json" in await refused(register(document_json=""), invalid)
    with pytest.raises(grpc.aio.AioRpcError):
        await catalog.GetEventType(catalog_pb2.GetEventTypeRequest(type=type_name))
    await refused(catalog.GetSchema(catalog_pb2.GetSchemaRequest(id=schema_id)), found)

    await register(compatibility="backward_transitive")
    assert (
        await catalog.GetCompatibility(catalog_pb2.CompatibilityRequest(schema_id=schema_id))
    ).mode == "BACKWARD"
    assert "already exists" in await refused(register(), grpc.StatusCode.ALREADY_EXISTS)
    # A second type may share the schema, but not redefine it.
    assert "exists" in await refused(register(type=type_name + ".v2"), invalid)
    shared = await register(type=type_name + ".v2", document_json="")
    assert shared.schema_version.version == 1

    def add(document: str, schema: str = schema_id) -> Awaitable[Any]:
        request = catalog_pb2.RegisterSchemaVersionRequest(schema_id=schema, document_json=document)
        return catalog.RegisterSchemaVersion(request)

    assert "not JSON" in await refused(add("nope"), invalid)
    assert "`$id` is 'https://example.com/o'" in await refused(
        add(json.dumps({**V2, "$id": "https://example.com/o"})), invalid
    )
    assert "not found" in await refused(add(json.dumps(V2), schema="Acme.Nothing"), found)
    assert "Twilio's catalogue" in await refused(
        add(json.dumps(V2), schema="Messaging.MessageStatus"), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "incompatible with BACKWARD against version 1" in await refused(
        add(json.dumps({**V1, "required": ["orderSid", "total", "status"]})),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert await versions(catalog, schema_id) == [1]

    assert "unknown compatibility mode" in await refused(
        catalog.SetCompatibility(catalog_pb2.SetCompatibilityRequest(schema_id=schema_id, mode="SOME")),
        invalid,
    )
    assert "Twilio's catalogue" in await refused(
        catalog.SetCompatibility(
            catalog_pb2.SetCompatibilityRequest(schema_id="Messaging.MessageStatus", mode="NONE")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "Twilio's catalogue" in await refused(
        catalog.DiscontinueEventType(
            catalog_pb2.DiscontinueEventTypeRequest(type="com.twilio.messaging.message.delivered")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "is not one of" in await refused(
        catalog.SetEventTypeStatus(catalog_pb2.SetEventTypeStatusRequest(type=type_name, status="gone")),
        invalid,
    )
    after = await catalog.GetEventType(catalog_pb2.GetEventTypeRequest(type=type_name))
    assert after.status == "available"
    twilio = await catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(type="com.twilio.messaging.message.delivered")
    )
    assert twilio.status == "available"

    # The mode is the schema's own until cleared; NONE then lets the stricter version in.
    none = await catalog.SetCompatibility(
        catalog_pb2.SetCompatibilityRequest(schema_id=schema_id, mode="NONE")
    )
    assert (none.mode, none.overridden) == ("NONE", True)
    await add(json.dumps({**V1, "required": ["orderSid", "total", "status"]}))
    assert await versions(catalog, schema_id) == [1, 2]
    cleared = await catalog.SetCompatibility(catalog_pb2.SetCompatibilityRequest(schema_id=schema_id))
    assert (cleared.mode, cleared.overridden) == ("FULL", False)


async def test_watch_catalog_sends_each_new_revision(catalog: catalog_pb2_grpc.CatalogAsyncStub) -> None:
    stream = catalog.WatchCatalog(catalog_pb2.WatchCatalogRequest(known_revision=0))
    first = await asyncio.wait_for(stream.read(), 5)
    assert isinstance(first, catalog_pb2.CatalogRevision) and first.revision > 0
    type_name, schema_id = names()
    await catalog.RegisterEventType(
        catalog_pb2.RegisterEventTypeRequest(
            type=type_name, schema_id=schema_id, document_json=json.dumps(V1)
        )
    )
    following = await asyncio.wait_for(stream.read(), 5)
    assert isinstance(following, catalog_pb2.CatalogRevision) and following.revision > first.revision
    stream.cancel()
