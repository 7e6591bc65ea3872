"""The schema registry's owners and quotas on a real catalog process with two producer teams'
credentials and an operator's: a team changes only what it registered (versions, mode, status,
sharing its schema), the operator may change anything registered, Twilio's catalogue stays the
platform's, and each team's types and each schema's versions are capped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc
from launcher.processes import Child, free_port, grpc_serving, start_python, wait_until
from runtime import clients, service_auth

pytestmark = pytest.mark.integration

TEAM_A = service_auth.new_credential("team-a")
TEAM_B = service_auth.new_credential("team-b")
OPERATOR = service_auth.new_credential("ops")
MAX_TYPES, MAX_VERSIONS = 4, 3
DOC: dict[str, Any] = {
    "type": "object",
    "properties": {"sid": {"type": "string"}},
    "required": ["sid"],
    "additionalProperties": False,
}


def version(n: int) -> str:
    """A FULL-compatible next version: one more optional field of a closed object."""
    props = {"sid": {"type": "string"}, **{f"f{i}": {"type": "string"} for i in range(2, n + 1)}}
    return json.dumps({**DOC, "properties": props})


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("catalog")
    address = f"127.0.0.1:{free_port()}"
    callers = ",".join(
        [
            service_auth.caller_entry(TEAM_A, "producer"),
            service_auth.caller_entry(TEAM_B, "producer"),
            service_auth.caller_entry(OPERATOR, "admin"),
        ]
    )
    env = {
        "ES_CATALOG_ADDRESS": address,
        "ES_CATALOG_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'catalog.db'}",
        "ES_SERVICE_CALLERS": callers,
        "ES_REGISTRY_MAX_TYPES_PER_OWNER": str(MAX_TYPES),
        "ES_REGISTRY_MAX_VERSIONS_PER_SCHEMA": str(MAX_VERSIONS),
    }
    child: Child = start_python("catalog", "services.catalog", env, directory)
    try:
        wait_until(lambda: grpc_serving(address), child, "catalog", timeout=60)
        yield address
    finally:
        child.stop()


@pytest.fixture
async def stubs(catalog: str) -> AsyncIterator[dict[str, catalog_pb2_grpc.CatalogAsyncStub]]:
    async with (
        clients.channel(catalog, TEAM_A) as a,
        clients.channel(catalog, TEAM_B) as b,
        clients.channel(catalog, OPERATOR) as ops,
    ):
        yield {
            "a": catalog_pb2_grpc.CatalogStub(a),
            "b": catalog_pb2_grpc.CatalogStub(b),
            "ops": catalog_pb2_grpc.CatalogStub(ops),
        }


async def refused(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value.code(), raised.value.details() or ""


def register(
    type_name: str, schema_id: str, document: str = json.dumps(DOC)
) -> catalog_pb2.RegisterEventTypeRequest:
    return catalog_pb2.RegisterEventTypeRequest(type=type_name, schema_id=schema_id, document_json=document)


async def test_a_team_changes_only_what_it_registered(
    stubs: dict[str, catalog_pb2_grpc.CatalogAsyncStub],
) -> None:
    a, b, ops = stubs["a"], stubs["b"], stubs["ops"]
    await a.RegisterEventType(register("com.a.order.placed", "A.Order"))

    denied = grpc.StatusCode.PERMISSION_DENIED
    attempts: list[Awaitable[Any]] = [
        b.RegisterSchemaVersion(
            catalog_pb2.RegisterSchemaVersionRequest(schema_id="A.Order", document_json=version(2))
        ),
        b.RegisterSchemaVersion(
            catalog_pb2.RegisterSchemaVersionRequest(
                schema_id="A.Order", document_json=version(2), dry_run=True
            )
        ),
        b.SetCompatibility(catalog_pb2.SetCompatibilityRequest(schema_id="A.Order", mode="NONE")),
        b.DiscontinueEventType(catalog_pb2.DiscontinueEventTypeRequest(type="com.a.order.placed")),
        b.SetEventTypeStatus(
            catalog_pb2.SetEventTypeStatusRequest(type="com.a.order.placed", status="deprecated")
        ),
        b.RegisterEventType(register("com.b.order.placed", "A.Order", document="")),  # sharing A's schema
    ]
    for attempt in attempts:
        code, message = await refused(attempt)
        assert code == denied and "team-a" in message, message

    # Nothing changed.
    kept = await b.GetEventType(catalog_pb2.GetEventTypeRequest(type="com.a.order.placed"))
    assert kept.status == "available"
    assert (await b.GetSchema(catalog_pb2.GetSchemaRequest(id="A.Order"))).latest_version == 1
    mode = await b.GetCompatibility(catalog_pb2.CompatibilityRequest(schema_id="A.Order"))
    assert not mode.overridden
    assert (await refused(b.GetEventType(catalog_pb2.GetEventTypeRequest(type="com.b.order.placed"))))[0] == (
        grpc.StatusCode.NOT_FOUND
    )

    # The owner may; so may the operator.
    added = await a.RegisterSchemaVersion(
        catalog_pb2.RegisterSchemaVersionRequest(schema_id="A.Order", document_json=version(2))
    )
    assert added.schema_version.version == 2
    await a.SetCompatibility(catalog_pb2.SetCompatibilityRequest(schema_id="A.Order", mode="BACKWARD"))
    await a.RegisterEventType(register("com.a.order.copied", "A.Order", document=""))
    await ops.SetEventTypeStatus(
        catalog_pb2.SetEventTypeStatusRequest(type="com.a.order.placed", status="deprecated")
    )
    gone = await a.DiscontinueEventType(catalog_pb2.DiscontinueEventTypeRequest(type="com.a.order.placed"))
    assert gone.status == "discontinued"


async def test_twilios_catalogue_is_the_platforms(
    stubs: dict[str, catalog_pb2_grpc.CatalogAsyncStub],
) -> None:
    for stub in stubs.values():  # the operator too: the seed refreshes it at every start
        code, _ = await refused(
            stub.DiscontinueEventType(
                catalog_pb2.DiscontinueEventTypeRequest(type="com.twilio.messaging.message.delivered")
            )
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        code, _ = await refused(
            stub.SetCompatibility(
                catalog_pb2.SetCompatibilityRequest(schema_id="Messaging.MessageStatus", mode="NONE")
            )
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
    code, message = await refused(
        stubs["a"].RegisterEventType(register("com.a.status", "Messaging.MessageStatus", ""))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED, message


async def test_a_team_has_a_cap_on_types_and_a_schema_on_versions(
    stubs: dict[str, catalog_pb2_grpc.CatalogAsyncStub],
) -> None:
    b, ops = stubs["b"], stubs["ops"]
    for n in range(MAX_TYPES):
        await b.RegisterEventType(register(f"com.b.thing{n}.made", f"B.Thing{n}"))
    code, message = await refused(b.RegisterEventType(register("com.b.one.more", "B.OneMore")))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and f"{MAX_TYPES}" in message, message
    # Per owner: the operator's own types are counted apart.
    await ops.RegisterEventType(register("com.ops.thing.made", "Ops.Thing"))

    for n in range(2, MAX_VERSIONS + 1):
        await b.RegisterSchemaVersion(
            catalog_pb2.RegisterSchemaVersionRequest(schema_id="B.Thing0", document_json=version(n))
        )
    code, message = await refused(
        b.RegisterSchemaVersion(
            catalog_pb2.RegisterSchemaVersionRequest(
                schema_id="B.Thing0", document_json=version(MAX_VERSIONS + 1)
            )
        )
    )
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and f"{MAX_VERSIONS}" in message, message
    assert (await b.GetSchema(catalog_pb2.GetSchemaRequest(id="B.Thing0"))).latest_version == MAX_VERSIONS
