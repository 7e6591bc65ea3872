"""Aggregate limits per account tree through the REST gateway: the subscription that would
take a main account and its subaccounts past their routing budget is refused with
Twilio's error body, and nothing is stored."""

from __future__ import annotations

import json

import httpx
import pytest

from devkit.suite import Suite
from services.control import limits
from tests.conftest import MAX_ROUTING_BYTES_PER_TREE
from tests.helpers import create_webhook_sink

pytestmark = pytest.mark.e2e

DELIVERED = "com.twilio.messaging.message.delivered"
FILTER = "to == '" + "x" * 990 + "'"


async def subscription_count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/Subscriptions?PageSize=1000")).json()["subscriptions"])


async def test_a_subscription_past_the_tree_s_routing_budget_is_refused(
    suite: Suite, rest: httpx.AsyncClient
) -> None:
    created = await rest.post("/2010-04-01/Accounts.json", data={"FriendlyName": "tenant"})
    assert created.status_code == 201, created.text
    sub = created.json()
    async with httpx.AsyncClient(
        base_url=suite.gateway_url, auth=(sub["sid"], sub["auth_token"]), timeout=30
    ) as sub_rest:
        clients = [rest, sub_rest]
        sinks = [(await create_webhook_sink(c, "https://example.com/hook"))["sid"] for c in clients]

        def form(i: int) -> dict[str, object]:
            types = [json.dumps({"type": DELIVERED})]
            return {"Description": f"big {i}", "SinkSid": sinks[i % 2], "Types": types, "Filter": FILTER}

        each = limits.routing_bytes([DELIVERED], FILTER, None)
        fits = MAX_ROUTING_BYTES_PER_TREE // each
        assert fits < 2 * 100  # the per-account limits are not what refuses
        for i in range(fits):  # the main account and its subaccount in turn
            answer = await clients[i % 2].post("/v1/Subscriptions", data=form(i))
            assert answer.status_code == 201, answer.text
        before = [await subscription_count(c) for c in clients]

        refused = await clients[fits % 2].post("/v1/Subscriptions", data=form(fits))
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert set(body) == {"code", "message", "more_info", "status"}
        assert (body["code"], body["status"]) == (91003, 400)
        assert body["more_info"] == "https://www.twilio.com/docs/errors/91003"
        assert "routing state across the account and its subaccounts" in body["message"]
        assert [await subscription_count(c) for c in clients] == before  # nothing stored
        assert sum(before) == fits

        # A small one still fits in what is left; a filter past the length limit never does.
        small = {"Description": "small", "SinkSid": sinks[1], "Types": [json.dumps({"type": DELIVERED})]}
        assert (await sub_rest.post("/v1/Subscriptions", data=small)).status_code == 201
        too_long = {**small, "Filter": "to == '" + "x" * 1100 + "'"}
        long_answer = await sub_rest.post("/v1/Subscriptions", data=too_long)
        assert (long_answer.status_code, long_answer.json()["code"]) == (400, 91101)
