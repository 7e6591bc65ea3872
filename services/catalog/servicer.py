"""The Catalog gRPC service: a thin translation from the store to the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc
from runtime.change_signal import ChangeSignal
from runtime.service_auth import caller
from runtime.times import iso_seconds
from services.catalog import revision
from services.catalog.models import EventTypeRow, SchemaVersionRow
from services.catalog.registry import Registry, Report
from services.catalog.store import CatalogStore

Ctx = grpc.aio.ServicerContext[Any, Any]


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


def report_message(report: Report) -> catalog_pb2.CompatibilityReport:
    return catalog_pb2.CompatibilityReport(
        mode=report.mode,
        compatible=report.compatible,
        incompatibilities=[
            catalog_pb2.Incompatibility(
                direction=i.direction,
                version=i.version,
                kind=i.breakage.kind,
                path=i.breakage.path,
                message=i.breakage.message,
            )
            for i in report.incompatibilities
        ],
        message=report.message,
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServicer):
    def __init__(
        self,
        store: CatalogStore,
        registry: Registry,
        sessions: async_sessionmaker[AsyncSession],
        signal: ChangeSignal,
        poll_seconds: float,
    ) -> None:
        self._store = store
        self._registry = registry
        self._sessions = sessions
        self._signal = signal
        self._poll = poll_seconds

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

    async def RegisterEventType(
        self, request: catalog_pb2.RegisterEventTypeRequest, context: Ctx
    ) -> catalog_pb2.RegisterEventTypeResponse:
        row, version = await self._registry.register_type(
            caller(context),
            request.type,
            request.schema_id,
            request.description,
            request.documentation_url,
            request.document_json,
            request.compatibility,
        )
        return catalog_pb2.RegisterEventTypeResponse(
            event_type=type_message(row), schema_version=version_message(version)
        )

    async def RegisterSchemaVersion(
        self, request: catalog_pb2.RegisterSchemaVersionRequest, context: Ctx
    ) -> catalog_pb2.RegisterSchemaVersionResponse:
        version, report = await self._registry.register_version(
            caller(context), request.schema_id, request.document_json, request.dry_run
        )
        return catalog_pb2.RegisterSchemaVersionResponse(
            schema_version=version_message(version), report=report_message(report), dry_run=request.dry_run
        )

    async def GetCompatibility(
        self, request: catalog_pb2.CompatibilityRequest, context: Ctx
    ) -> catalog_pb2.Compatibility:
        mode, overridden = await self._registry.compatibility_of(request.schema_id)
        return catalog_pb2.Compatibility(schema_id=request.schema_id, mode=mode, overridden=overridden)

    async def SetCompatibility(
        self, request: catalog_pb2.SetCompatibilityRequest, context: Ctx
    ) -> catalog_pb2.Compatibility:
        mode, overridden = await self._registry.set_compatibility(
            caller(context), request.schema_id, request.mode
        )
        return catalog_pb2.Compatibility(schema_id=request.schema_id, mode=mode, overridden=overridden)

    async def SetEventTypeStatus(
        self, request: catalog_pb2.SetEventTypeStatusRequest, context: Ctx
    ) -> catalog_pb2.EventType:
        return type_message(await self._registry.set_status(caller(context), request.type, request.status))

    async def DiscontinueEventType(
        self, request: catalog_pb2.DiscontinueEventTypeRequest, context: Ctx
    ) -> catalog_pb2.EventType:
        return type_message(await self._registry.set_status(caller(context), request.type, "discontinued"))

    async def WatchCatalog(
        self, request: catalog_pb2.WatchCatalogRequest, context: Ctx
    ) -> AsyncIterator[catalog_pb2.CatalogRevision]:
        async for latest in revision.watch(self._sessions, self._signal, self._poll, request.known_revision):
            yield catalog_pb2.CatalogRevision(revision=latest)
