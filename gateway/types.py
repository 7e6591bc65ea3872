"""/v1/Types and /v1/Schemas: the catalogue, read-only."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from starlette.routing import Route

from eventstreams.v1 import catalog_pb2
from gateway import forms, schema_fields
from gateway.context import Backends, Call, authenticated, ok
from gateway.paging import PageRequest, envelope
from gateway.routing import resources
from runtime.errors import NotFound


def type_body(call: Call, t: catalog_pb2.EventType) -> dict[str, Any]:
    return {
        "type": t.type,
        "schema_id": t.schema_id,
        "date_created": t.date_created,
        "date_updated": t.date_updated,
        "description": t.description,
        "status": t.status,
        "documentation_url": t.documentation_url or None,
        "url": call.url(f"/v1/Types/{t.type}"),
        "links": {"schema": call.url(f"/v1/Schemas/{quote(t.schema_id)}/Versions")},
    }


def version_body(call: Call, v: catalog_pb2.SchemaVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "schema_version": v.version,
        "date_created": v.date_created,
        "url": call.url(f"/v1/Schemas/{quote(v.id)}/Versions/{v.version}"),
        # The schema document names itself: the URL Twilio serves it from.
        "raw": json.loads(v.document_json).get("$id"),
    }


async def list_types(call: Call) -> Any:
    params = call.request.query_params
    page = PageRequest.read(params, "SchemaId")
    schema_id = forms.optional(params, "SchemaId")
    found = await call.backends.catalog.ListEventTypes(
        catalog_pb2.ListEventTypesRequest(page_size=page.size, page_token=page.token, schema_id=schema_id)
    )
    filters = {"SchemaId": schema_id} if schema_id else {}
    return ok(
        envelope(
            "types",
            [type_body(call, t) for t in found.types],
            call.url("/v1/Types"),
            filters,
            page,
            found,
        )
    )


async def fetch_type(call: Call) -> Any:
    found = await call.backends.catalog.GetEventType(
        catalog_pb2.GetEventTypeRequest(type=call.request.path_params["type"])
    )
    return ok(type_body(call, found))


async def fetch_schema(call: Call) -> Any:
    schema_id = call.request.path_params["id"]
    found = await call.backends.catalog.GetSchema(catalog_pb2.GetSchemaRequest(id=schema_id))
    return ok(
        {
            "id": found.id,
            "url": call.url(f"/v1/Schemas/{quote(found.id)}"),
            "links": {"versions": call.url(f"/v1/Schemas/{quote(found.id)}/Versions")},
            "latest_version_date_created": found.latest_version_date_created,
            "latest_version": found.latest_version,
        }
    )


async def list_versions(call: Call) -> Any:
    schema_id = call.request.path_params["id"]
    params = call.request.query_params
    page = PageRequest.read(params)
    found = await call.backends.catalog.ListSchemaVersions(
        catalog_pb2.ListSchemaVersionsRequest(id=schema_id, page_size=page.size, page_token=page.token)
    )
    return ok(
        envelope(
            "schema_versions",
            [version_body(call, v) for v in found.versions],
            call.url(f"/v1/Schemas/{quote(schema_id)}/Versions"),
            {},
            page,
            found,
        )
    )


async def _version(call: Call) -> catalog_pb2.SchemaVersion:
    schema_id = call.request.path_params["id"]
    raw = str(call.request.path_params["version"])
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= forms.INT32_MAX:
        raise NotFound(f"The requested resource /Schemas/{schema_id}/Versions/{raw} was not found")
    return await call.backends.catalog.GetSchemaVersion(
        catalog_pb2.GetSchemaVersionRequest(id=schema_id, version=int(raw))
    )


async def fetch_version(call: Call) -> Any:
    return ok(version_body(call, await _version(call)))


async def fetch_version_fields(call: Call) -> Any:
    """An extension: a version's fields read from its JSON Schema (Twilio links the document
    only, as `raw`), and the document itself."""
    found = await _version(call)
    document = json.loads(found.document_json)
    return ok(
        {
            "id": found.id,
            "schema_version": found.version,
            "fields": [asdict(f) for f in schema_fields.fields(document)],
            "document": document,
            "url": call.url(f"/v1/Schemas/{quote(found.id)}/Versions/{found.version}/Fields"),
        }
    )


def routes(backends: Backends) -> list[Route]:
    return resources(
        ("/v1/Types", "GET", authenticated(backends, list_types)),
        ("/v1/Types/{type}", "GET", authenticated(backends, fetch_type)),
        ("/v1/Schemas/{id}", "GET", authenticated(backends, fetch_schema)),
        ("/v1/Schemas/{id}/Versions", "GET", authenticated(backends, list_versions)),
        ("/v1/Schemas/{id}/Versions/{version}", "GET", authenticated(backends, fetch_version)),
        ("/v1/Schemas/{id}/Versions/{version}/Fields", "GET", authenticated(backends, fetch_version_fields)),
    )
