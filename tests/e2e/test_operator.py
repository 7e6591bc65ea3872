"""The operator's side: the first account from the command line, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import pytest
import yaml

from devkit.suite import Suite
from launcher.processes import python_env

pytestmark = pytest.mark.e2e


async def admin(suite: Suite, *args: str) -> dict[str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.control.admin",
        "--control",
        suite.address("control"),
        *args,
        env=python_env({"ES_SERVICE_TOKEN": suite.credential("admin")}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return dict(json.loads(out))


async def test_operator_creates_the_first_account_and_a_key(suite: Suite) -> None:
    account = await admin(suite, "create-account", "--friendly-name", "Acme")
    assert account["account_sid"].startswith("AC")
    key = await admin(suite, "create-key", "--account", account["account_sid"])
    assert key["api_key_sid"].startswith("SK")
    for auth in [
        (account["account_sid"], account["auth_token"]),
        (key["api_key_sid"], key["api_key_secret"]),
    ]:
        async with httpx.AsyncClient(base_url=suite.gateway_url, auth=auth) as client:
            response = await client.get("/v1/Sinks")
            assert response.status_code == 200
            assert response.json()["sinks"] == []


async def test_gateway_serves_its_openapi_document(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        as_json = (await client.get("/openapi.json")).json()
        as_yaml = yaml.safe_load((await client.get("/openapi.yaml")).text)
    assert as_json == as_yaml
    assert as_json["servers"] == [{"url": suite.gateway_url}]
    operations = [
        op
        for path in as_json["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert {op["operationId"] for op in operations} >= {
        "ListEventType",
        "FetchEventType",
        "FetchSchema",
        "ListSchemaVersion",
        "FetchSchemaVersion",
        "CreateSink",
        "ListSink",
        "FetchSink",
        "UpdateSink",
        "DeleteSink",
        "CreateSinkTest",
        "CreateSinkValidate",
        "CreateSubscription",
        "ListSubscription",
        "FetchSubscription",
        "UpdateSubscription",
        "DeleteSubscription",
        "CreateSubscribedEvent",
        "ListSubscribedEvent",
        "FetchSubscribedEvent",
        "UpdateSubscribedEvent",
        "DeleteSubscribedEvent",
    }
    assert {p["servers"][0]["url"] for p in as_json["paths"].values()} == {suite.gateway_url}
