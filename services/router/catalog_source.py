"""The catalog gRPC adapter behind the router's CatalogSource port."""

from __future__ import annotations

import grpc

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc
from runtime.errors import Unavailable
from runtime.feed_watcher import FeedWatcher
from services.router.schemas import SchemaCache, TypeInfo


def catalog_watcher(
    stub: catalog_pb2_grpc.CatalogAsyncStub, cache: SchemaCache
) -> FeedWatcher[catalog_pb2.CatalogRevision]:
    """Follows catalog's revision feed: each registry change (a type discontinued, a version
    registered) makes the cache forget statuses and latest versions, within a second."""
    return FeedWatcher(
        "catalog feed",
        lambda known: stub.WatchCatalog(catalog_pb2.WatchCatalogRequest(known_revision=known)),
        lambda _revision: cache.invalidate(),
        lambda message: message.revision,
    )


class GrpcCatalogSource:
    def __init__(self, stub: catalog_pb2_grpc.CatalogAsyncStub) -> None:
        self._stub = stub

    async def event_type(self, type_name: str) -> TypeInfo | None:
        try:
            found = await self._stub.GetEventType(catalog_pb2.GetEventTypeRequest(type=type_name), timeout=5)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"catalog unavailable: {exc.code().name}") from exc
        return TypeInfo(found.type, found.schema_id, found.status)

    async def schema_version(self, schema_id: str, version: int) -> tuple[int, str] | None:
        try:
            found = await self._stub.GetSchemaVersion(
                catalog_pb2.GetSchemaVersionRequest(id=schema_id, version=version), timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"catalog unavailable: {exc.code().name}") from exc
        return found.version, found.document_json
