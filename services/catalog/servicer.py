"""The Catalog gRPC service: a thin translation from the store to the contract."""

from __future__ import annotations

from typing import Any

import grpc

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc
from runtime.times import iso_seconds
from services.catalog.models import EventTypeRow, SchemaVersionRow
from services.catalog.store import CatalogStore


def type_message(row: EventTypeRow) -> catalog_pb2.EventType:
    return catalog_pb2.EventType(
        type=row.type,
        schema_id=row.schema_id,
        status=row.status,
        description=row.description,
        documentation_url=row.documentation_url,
        date_created=iso_seconds(row.date_created),
        date_updated=iso_seconds(row.date_updated),
    )


def version_message(row: SchemaVersionRow) -> catalog_pb2.SchemaVersion:
    return catalog_pb2.SchemaVersion(
        id=row.schema_id,
        version=row.version,
        date_created=iso_seconds(row.date_created),
        document_json=row.document,
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServicer):
    def __init__(self, store: CatalogStore) -> None:
        self._store = store

    async def ListEventTypes(
        self, request: catalog_pb2.ListEventTypesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> catalog_pb2.ListEventTypesResponse:
        page = await self._store.list_types(request.page_size, request.page_token, request.schema_id)
        return catalog_pb2.ListEventTypesResponse(
            types=[type_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def GetEventType(
        self, request: catalog_pb2.GetEventTypeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> catalog_pb2.EventType:
        return type_message(await self._store.get_type(request.type))

    async def GetSchema(
        self, request: catalog_pb2.GetSchemaRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> catalog_pb2.Schema:
        latest = await self._store.latest_version(request.id)
        return catalog_pb2.Schema(
            id=latest.schema_id,
            latest_version=latest.version,
            latest_version_date_created=iso_seconds(latest.date_created),
        )

    async def ListSchemaVersions(
        self, request: catalog_pb2.ListSchemaVersionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> catalog_pb2.ListSchemaVersionsResponse:
        page = await self._store.list_versions(request.id, request.page_size, request.page_token)
        return catalog_pb2.ListSchemaVersionsResponse(
            versions=[version_message(r) for r in page.items],
            next_page_token=page.next_token,
            previous_page_token=page.previous_token,
        )

    async def GetSchemaVersion(
        self, request: catalog_pb2.GetSchemaVersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> catalog_pb2.SchemaVersion:
        return version_message(await self._store.get_version(request.id, request.version))
