"""Tenancy: every operation tried with another account's valid credentials fails as not
found and changes nothing; wrong credentials are 401/20003 everywhere. Paging: 250 sinks
page correctly, forwards and back, at PageSize 1, 7 and 1000."""

from __future__ import annotations

import json

import httpx
import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc
from tests.conftest import MAX_SINKS
from tests.helpers import create_webhook_sink, subscribe

pytestmark = pytest.mark.e2e

DELIVERED = "com.twilio.messaging.message.delivered"


async def owned_resources(rest: httpx.AsyncClient, account: control_pb2.Account) -> dict[str, str]:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    subscription = await subscribe(rest, sink["sid"], DELIVERED)
    key = (
        await rest.post(f"/2010-04-01/Accounts/{account.sid}/Keys.json", data={"FriendlyName": "k"})
    ).json()
    return {"sink": sink["sid"], "subscription": subscription["sid"], "key": key["sid"]}


def every_operation(owner: str, r: dict[str, str]) -> list[tuple[str, str, dict[str, object]]]:
    sink, sub, key = r["sink"], r["subscription"], r["key"]
    types = json.dumps({"type": DELIVERED})
    return [
        ("GET", f"/v1/Sinks/{sink}", {}),
        ("POST", f"/v1/Sinks/{sink}", {"Description": "mine now"}),
        ("DELETE", f"/v1/Sinks/{sink}", {}),
        ("POST", f"/v1/Sinks/{sink}/Test", {}),
        ("POST", f"/v1/Sinks/{sink}/Validate", {"TestId": "00000000-0000-0000-0000-000000000000"}),
        ("GET", f"/v1/Subscriptions/{sub}", {}),
        ("POST", f"/v1/Subscriptions/{sub}", {"Description": "mine now"}),
        ("DELETE", f"/v1/Subscriptions/{sub}", {}),
        ("GET", f"/v1/Subscriptions/{sub}/SubscribedEvents", {}),
        ("POST", f"/v1/Subscriptions/{sub}/SubscribedEvents", {"Type": "com.twilio.messaging.message.sent"}),
        ("GET", f"/v1/Subscriptions/{sub}/SubscribedEvents/{DELIVERED}", {}),
        ("POST", f"/v1/Subscriptions/{sub}/SubscribedEvents/{DELIVERED}", {"SchemaVersion": "3"}),
        ("DELETE", f"/v1/Subscriptions/{sub}/SubscribedEvents/{DELIVERED}", {}),
        ("GET", f"/2010-04-01/Accounts/{owner}.json", {}),
        ("GET", f"/2010-04-01/Accounts/{owner}/Keys.json", {}),
        ("POST", f"/2010-04-01/Accounts/{owner}/Keys.json", {"FriendlyName": "mine"}),
        ("GET", f"/2010-04-01/Accounts/{owner}/Keys/{key}.json", {}),
        ("DELETE", f"/2010-04-01/Accounts/{owner}/Keys/{key}.json", {}),
        # A body parameter that names another account's sink: "Sink could not be found".
        ("POST", "/v1/Subscriptions", {"Description": "x", "SinkSid": sink, "Types": [types]}),
    ]


async def snapshot(rest: httpx.AsyncClient, account: control_pb2.Account, r: dict[str, str]) -> list[object]:
    paths = [
        f"/v1/Sinks/{r['sink']}",
        f"/v1/Subscriptions/{r['subscription']}",
        f"/v1/Subscriptions/{r['subscription']}/SubscribedEvents",
        f"/2010-04-01/Accounts/{account.sid}/Keys.json",
    ]
    return [(await rest.get(path)).json() for path in paths]


async def test_another_accounts_credentials_find_nothing(
    suite: Suite,
    rest: httpx.AsyncClient,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
) -> None:
    resources = await owned_resources(rest, account)
    before = await snapshot(rest, account, resources)
    other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    sub = await control.CreateAccount(
        control_pb2.CreateAccountRequest(
            friendly_name="a subaccount of the owner", owner_account_sid=account.sid
        )
    )
    for intruder in (other, sub):
        async with httpx.AsyncClient(
            base_url=suite.gateway_url, auth=(intruder.sid, intruder.auth_token)
        ) as client:
            for method, path, form in every_operation(account.sid, resources):
                response = await client.request(method, path, data=form or None)
                expected = (400, 91001) if path == "/v1/Subscriptions" else (404, 20404)
                assert (response.status_code, response.json()["code"]) == expected, (
                    method,
                    path,
                    response.text,
                )
            for listing, key in [
                ("/v1/Sinks", "sinks"),
                ("/v1/Subscriptions", "subscriptions"),
                (f"/v1/Subscriptions?SinkSid={resources['sink']}", "subscriptions"),
            ]:
                assert (await client.get(listing)).json()[key] == []
    assert await snapshot(rest, account, resources) == before


async def test_wrong_credentials_are_refused_everywhere(
    suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    resources = await owned_resources(rest, account)
    operations = [
        *every_operation(account.sid, resources),
        ("GET", "/v1/Types", {}),
        ("GET", f"/v1/Types/{DELIVERED}", {}),
        ("GET", "/v1/Schemas/Messaging.MessageStatus", {}),
        ("GET", "/v1/Schemas/Messaging.MessageStatus/Versions", {}),
        ("GET", "/v1/Schemas/Messaging.MessageStatus/Versions/7", {}),
        ("GET", "/v1/Sinks", {}),
        ("POST", "/v1/Sinks", {"Description": "x"}),
        ("GET", "/v1/Subscriptions", {}),
        ("GET", "/2010-04-01/Accounts.json", {}),
        ("POST", "/2010-04-01/Accounts.json", {}),
    ]
    credentials = [(account.sid, "0" * 32), (resources["key"], account.auth_token), ("nobody", "x")]
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        for auth in credentials:
            for method, path, form in operations:
                response = await client.request(method, path, data=form or None, auth=auth)
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["code"] == 20003
        response = await client.get("/v1/Sinks")
        assert (response.status_code, response.json()["code"]) == (401, 20003)


async def walk(rest: httpx.AsyncClient, first: str) -> tuple[list[str], str | None]:
    seen: list[str] = []
    url: str | None = first
    last_meta: dict[str, object] = {}
    while url:
        body = (await rest.get(url)).json()
        seen.extend(s["sid"] for s in body["sinks"])
        last_meta = body["meta"]
        url = body["meta"]["next_page_url"]  # type: ignore[assignment]
    return seen, last_meta.get("previous_page_url")  # type: ignore[return-value]


async def test_paging_250_sinks(rest: httpx.AsyncClient) -> None:
    assert MAX_SINKS >= 250
    created = []
    for i in range(250):
        response = await rest.post(
            "/v1/Sinks",
            data={
                "Description": f"sink {i}",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps(
                    {"destination": f"https://example.com/{i}", "method": "POST"}
                ),
            },
        )
        created.append(response.json()["sid"])
    for size in (1, 7, 1000):
        seen, previous = await walk(rest, f"/v1/Sinks?PageSize={size}")
        assert seen == created, size
        first = (await rest.get(f"/v1/Sinks?PageSize={size}")).json()["meta"]
        assert first["page_size"] == size
        assert first["previous_page_url"] is None
        assert first["key"] == "sinks"
        # Back from the last page to the first through previous_page_url.
        backwards: list[str] = []
        url = previous
        while url:
            body = (await rest.get(url)).json()
            backwards[:0] = [s["sid"] for s in body["sinks"]]
            url = body["meta"]["previous_page_url"]
        last_page = len(created) % size or size
        assert backwards + created[-last_page:] == created if size < 250 else backwards == []
    assert (await rest.get("/v1/Sinks?PageSize=0")).status_code == 400
    assert (await rest.get("/v1/Sinks?PageSize=1001")).status_code == 400
    bad_token = await rest.get("/v1/Sinks?PageToken=garbage")
    assert (bad_token.status_code, bad_token.json()["code"]) == (400, 21481)
    webhook = {
        "Description": "x",
        "SinkType": "webhook",
        "SinkConfiguration": json.dumps({"destination": "https://example.com/", "method": "POST"}),
    }
    for _ in range(MAX_SINKS - len(created)):
        assert (await rest.post("/v1/Sinks", data=webhook)).status_code == 201
    refused = await rest.post("/v1/Sinks", data=webhook)
    assert (refused.status_code, refused.json()["code"]) == (400, 91003)
    assert len((await rest.get("/v1/Sinks?PageSize=1000")).json()["sinks"]) == MAX_SINKS


async def test_subscription_limit(rest: httpx.AsyncClient) -> None:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    for _ in range(100):  # Twilio's limit, the default setting
        await subscribe(rest, sink["sid"], DELIVERED)
    refused = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "one too many",
            "SinkSid": sink["sid"],
            "Types": [json.dumps({"type": DELIVERED})],
        },
    )
    assert (refused.status_code, refused.json()["code"]) == (400, 91003)
    assert len((await rest.get("/v1/Subscriptions?PageSize=1000")).json()["subscriptions"]) == 100
