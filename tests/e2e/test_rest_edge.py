"""The REST edge under hostile or careless clients, through the real gateway: a stranger's
failed sign-ins do not lock the owner out, a huge usage range is refused before anything is
built, any page token the server did not issue is 21481/400 on every list (PostgreSQL
included), raw UTF-8 in a form body is read as UTF-8, and every response carries the
browser-hardening headers."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from devkit.suite import Suite
from eventstreams.v1 import control_pb2
from tests.helpers import create_webhook_sink, subscribe

pytestmark = pytest.mark.e2e

DELIVERED = "com.twilio.messaging.message.delivered"


def assert_twilio_error(response: httpx.Response, status: int, code: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    return body


async def test_a_correct_token_works_after_another_address_spent_the_failure_budget(
    suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    # The whole of 127.0.0.0/8 is this host: a second client address without a second host.
    stranger = httpx.AsyncClient(
        base_url=suite.gateway_url,
        auth=(account.sid, "wrong-" + account.auth_token),
        transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        timeout=30,
    )
    async with stranger:
        for _ in range(12):  # past the budget of failures
            assert_twilio_error(await stranger.get("/v1/Sinks"), 401, 20003)
        throttled = assert_twilio_error(await stranger.get("/v1/Sinks"), 401, 20003)
        assert "too many failed sign-ins" in str(throttled["message"])

    owner = await rest.get("/v1/Sinks")  # from 127.0.0.1, with the right token
    assert owner.status_code == 200, owner.text


@pytest.mark.parametrize(("start", "end"), [("1826-01-01", "2026-01-01"), ("0001-01-01", "9999-12-31")])
async def test_a_huge_usage_range_is_refused_before_anything_is_built(
    rest: httpx.AsyncClient, account: control_pb2.Account, start: str, end: str
) -> None:
    began = time.monotonic()
    response = await rest.get(
        f"/2010-04-01/Accounts/{account.sid}/Usage/Records/Daily.json",
        params={"StartDate": start, "EndDate": end},
    )
    body = assert_twilio_error(response, 400, 20001)
    assert "StartDate" in str(body["message"])
    assert time.monotonic() - began < 2


async def test_a_long_allowed_range_pages_without_building_it(
    rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    path = f"/2010-04-01/Accounts/{account.sid}/Usage/Records/Daily.json"
    params = {"StartDate": "2017-01-01", "EndDate": "2026-12-31", "Category": "event-streams"}
    last = await rest.get(path, params={**params, "PageSize": "7", "Page": "521"})
    assert last.status_code == 200, last.text
    found = last.json()
    # 3652 days, seven a page: page 521 holds the last five, and nothing follows.
    assert [r["start_date"] for r in found["usage_records"]][-1] == "2026-12-31"
    assert len(found["usage_records"]) == 5 and found["next_page_uri"] is None
    beyond = (await rest.get(path, params={**params, "PageSize": "7", "Page": "900000"})).json()
    assert beyond["usage_records"] == [] and beyond["next_page_uri"] is None


def token(prefix: str, key: object) -> str:
    return prefix + base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


# Lists by the key their rows are paged by: a 64-bit number, a 32-bit one (a schema's
# versions) or a name (the types).
BIGINT, INT32, NAME = "bigint", "int32", "name"


# Decodable tokens the server never issues, and the lists where each is still a valid place
# to start from (an empty or partial page, 200); everywhere else 400, Twilio's 21481.
@pytest.mark.parametrize(
    ("forged", "valid_for"),
    [
        (token("PA", 2**70), set()),  # past every column's range
        (token("PB", -(2**70)), set()),
        (token("PA", 10**300), set()),
        (token("PA", 2**40), {BIGINT}),  # past a 32-bit column's range
        (token("PA", "DG1"), {NAME}),  # a name where the rows are numbered
        (token("PA", 7), {BIGINT, INT32}),  # a number where the rows are named
        (token("PA", "a\u0000"), set()),  # text PostgreSQL cannot hold
        (token("PA", "\ud800"), set()),  # no UTF-8
    ],
)
async def test_a_forged_page_token_is_21481_on_every_list(
    rest: httpx.AsyncClient, account: control_pb2.Account, forged: str, valid_for: set[str]
) -> None:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    subscription = await subscribe(rest, sink["sid"], DELIVERED)
    lists = {
        "/v1/Sinks": BIGINT,
        "/v1/Subscriptions": BIGINT,
        f"/v1/Subscriptions/{subscription['sid']}/SubscribedEvents": BIGINT,
        "/v1/Types": NAME,
        "/v1/Schemas/Messaging.MessageStatus/Versions": INT32,
        f"/v1/Sinks/{sink['sid']}/Deliveries": BIGINT,
        f"/v1/Sinks/{sink['sid']}/DeadLetters": BIGINT,
        f"/v1/Sinks/{sink['sid']}/Replays": BIGINT,
        "/v1/Alerts": BIGINT,
        "/2010-04-01/Accounts.json": BIGINT,
        f"/2010-04-01/Accounts/{account.sid}/Keys.json": BIGINT,
    }
    answers = {path: await rest.get(path, params={"PageToken": forged}) for path in lists}
    for path, kind in lists.items():
        if kind in valid_for:
            assert answers[path].status_code == 200, (path, answers[path].text)
        else:
            assert answers[path].status_code == 400, (path, answers[path].text)
            assert_twilio_error(answers[path], 400, 21481)


async def test_raw_utf8_in_a_form_body_is_read_as_utf8(rest: httpx.AsyncClient) -> None:
    # What a shell sends for `-d SinkSid=DG…` pasted from a page: UTF-8 bytes, not %-escaped.
    body = "Description=x&SinkSid=DG…&Types=" + json.dumps({"type": DELIVERED})
    response = await rest.post(
        "/v1/Subscriptions",
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 404), response.text
    assert "DG…" in response.json()["message"], response.text
    bad = await rest.post(
        "/v1/Subscriptions",
        content=b"Description=\xff\xfe&SinkSid=DG1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_twilio_error(bad, 400, 20001)


async def test_responses_carry_the_hardening_headers(
    suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as anonymous:
        for path in ("/console/", "/console/console.js", "/console/console.css", "/openapi.json"):
            response = await anonymous.get(path)
            assert response.status_code == 200, path
            assert response.headers["x-content-type-options"] == "nosniff", path
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp, path
            # The console runs its own files only; a document of data runs nothing.
            assert ("script-src 'self'" if "console" in path else "default-src 'none'") in csp, path
        refused = await anonymous.get("/v1/Sinks")
        assert refused.status_code == 401
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    sinks = await rest.get("/v1/Sinks")
    assert sinks.headers["cache-control"] == "no-store"
    key = await rest.post(f"/2010-04-01/Accounts/{account.sid}/Keys.json", data={"FriendlyName": "k"})
    assert key.status_code == 201 and key.json()["secret"]
    assert key.headers["cache-control"] == "no-store"
    fetched = await rest.get(f"/2010-04-01/Accounts/{account.sid}.json")
    assert fetched.headers["cache-control"] == "no-store"
