"""gRPC adapters behind control's ports."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc, router_pb2, router_pb2_grpc
from runtime.errors import InvalidArgument, Unavailable

TEST_EVENT_TYPE = "com.twilio.eventstreams.test-event"


class CatalogTypeResolver:
    def __init__(self, catalog: catalog_pb2_grpc.CatalogAsyncStub) -> None:
        self._catalog = catalog

    async def pin(self, type_name: str, schema_version: int) -> int:
        try:
            event_type = await self._catalog.GetEventType(catalog_pb2.GetEventTypeRequest(type=type_name))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument(
                    f"Type not found in the system: {type_name}", twilio_code=91104
                ) from exc
            raise Unavailable(f"catalog unavailable: {exc.details()}") from exc
        if event_type.status == "discontinued":
            raise InvalidArgument(f"Type is discontinued: {type_name}", twilio_code=91104)
        if event_type.status == "restricted":
            raise InvalidArgument(
                f"Type is restricted and accepts no new subscriptions: {type_name}",
                twilio_code=91104,
            )
        try:
            version = await self._catalog.GetSchemaVersion(
                catalog_pb2.GetSchemaVersionRequest(id=event_type.schema_id, version=schema_version)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument(
                    f"Schema version {schema_version} does not exist for {type_name}",
                    twilio_code=91104,
                ) from exc
            raise Unavailable(f"catalog unavailable: {exc.details()}") from exc
        return version.version

    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        try:
            event_type = await self._catalog.GetEventType(catalog_pb2.GetEventTypeRequest(type=type_name))
            version = await self._catalog.GetSchemaVersion(
                catalog_pb2.GetSchemaVersionRequest(id=event_type.schema_id, version=schema_version)
            )
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"catalog unavailable: {exc.details()}") from exc
        found: dict[str, Any] = json.loads(version.document_json)
        return found


class RouterTestEventPublisher:
    def __init__(self, router: router_pb2_grpc.RouterAsyncStub) -> None:
        self._router = router

    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        now = Timestamp()
        now.GetCurrentTime()
        event = router_pb2.Event(
            # Twilio's test event carries the account SID as its id and "Sink" as source.
            id=account_sid,
            account_sid=account_sid,
            type=TEST_EVENT_TYPE,
            schema_version=1,
            source="Sink",
            time=now,
            data_json=json.dumps({"test_id": test_id}),
            sink_sid=sink_sid,
        )
        try:
            response = await self._router.Publish(router_pb2.PublishRequest(events=[event]), timeout=10)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"router unavailable: {exc.details()}") from exc
        result = response.results[0]
        if result.code != 0:
            raise Unavailable(f"test event not published: {result.message}")
