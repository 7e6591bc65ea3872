"""Version projection through real processes over the real catalogue: a producer publishes at
the newest schema version; each subscriber pinned to an older one receives the event shaped
for its version — `dataschema` naming it, the fields that version defines and no others (nested
objects too), valid against that version's JSON Schema as the catalog serves it."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import fastjsonschema
import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc, control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, sample, subscribe

pytestmark = pytest.mark.e2e

# Every version of Messaging.MessageStatus (fields added in 5 and 6), and TaskRouter's
# WDSEvent 1 vs 4 (a field added inside the nested `payload`).
PINNED = [("com.twilio.messaging.message.delivered", "Messaging.MessageStatus", v) for v in range(1, 8)]
PINNED += [("com.twilio.taskrouter.task.created", "TaskRouter.WDSEvent", v) for v in (1, 4)]


async def routed_everywhere(
    router: router_pb2_grpc.RouterAsyncStub, event: router_pb2.Event, count: int
) -> None:
    """Until the router routes the event to all `count` new sinks (then it is stored)."""
    deadline = time.monotonic() + 20
    while True:
        response = await router.Publish(router_pb2.PublishRequest(events=[event]), timeout=10)
        if response.results[0].code == 0 and response.results[0].deliveries == count:
            return
        assert time.monotonic() < deadline, f"not routed to {count} sinks: {response.results[0]}"
        await asyncio.sleep(0.1)


async def test_each_pinned_version_gets_the_event_shaped_and_valid_for_it(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    paths = {}
    for type_name, schema_id, version in PINNED:
        path = f"/{schema_id}/{version}"
        sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}{path}")
        await subscribe(rest, sink["sid"], type_name, version=version)
        paths[path] = (type_name, schema_id, version)
    published: dict[str, router_pb2.Event] = {}
    for type_name in {t for t, _, _ in PINNED}:
        events = [sample(account.sid, type_name) for _ in range(2)]  # at the newest version
        wanted = sum(1 for t, _, _ in PINNED if t == type_name)
        await routed_everywhere(router, events[0], wanted)
        response = await router.Publish(router_pb2.PublishRequest(events=events), timeout=10)
        assert all(r.code == 0 and r.deliveries == wanted for r in response.results), response
        published |= {e.id: e for e in events}
    await receiver.wait_for(lambda r: len(r.received) >= 2 * len(PINNED), timeout=30)

    async with suite.channel("catalog") as channel:
        catalog = catalog_pb2_grpc.CatalogStub(channel)
        documents = {}
        for _, schema_id, version in PINNED:
            found = await catalog.GetSchemaVersion(
                catalog_pb2.GetSchemaVersionRequest(id=schema_id, version=version)
            )
            assert found.version == version
            documents[(schema_id, version)] = json.loads(found.document_json)

    seen: dict[str, set[str]] = defaultdict(set)
    for record in receiver.received:
        type_name, schema_id, version = paths[urlsplit(record.url).path]
        [delivered] = record.events()
        assert delivered["type"] == type_name
        assert delivered["dataschema"] == f"https://events-schemas.twilio.com/{schema_id}/{version}"
        document = documents[(schema_id, version)]
        fastjsonschema.compile(document)(delivered["data"])  # valid for its version
        original = json.loads(published[delivered["id"]].data_json)
        # Exactly the published fields this version defines: nothing added, nothing kept beyond
        # (nested objects are checked below, on WDSEvent's payload).
        assert set(delivered["data"]) == {k for k in original if k in document["properties"]}, (
            schema_id,
            version,
        )
        seen[urlsplit(record.url).path].add(delivered["id"])
    assert all(len(ids) == 2 for ids in seen.values()) and len(seen) == len(PINNED)
    # The projections really differ: v1 lacks what v5 added, WDSEvent 1 a nested payload field.
    assert "numberOfSegments" not in _data(receiver, "/Messaging.MessageStatus/1")
    assert "numberOfSegments" in _data(receiver, "/Messaging.MessageStatus/7")
    assert "worker_time_in_previous_activity_ms" not in _data(receiver, "/TaskRouter.WDSEvent/1")["payload"]
    assert "worker_time_in_previous_activity_ms" in _data(receiver, "/TaskRouter.WDSEvent/4")["payload"]


def _data(receiver: Receiver, path: str) -> dict[str, Any]:
    record = next(r for r in receiver.received if urlsplit(r.url).path == path)
    return dict(record.events()[0]["data"])
