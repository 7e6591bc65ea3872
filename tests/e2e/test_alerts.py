"""The error log: a sink's failed deliveries read as Monitor v1 Alerts by twilio-python,
pointed at the gateway as Twilio's console points it at monitor.twilio.com."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from launcher.processes import free_port
from tests.e2e.test_twilio_python import client_for, off_loop
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"


async def until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_failed_deliveries_are_alerts(
    suite: Suite,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
    router: router_pb2_grpc.RouterAsyncStub,
    rest: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    receiver.responder = lambda _record: web.Response(status=404, text="no such hook")
    refusing = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    unreachable = await create_webhook_sink(rest, f"http://127.0.0.1:{free_port()}/hook")
    for sink in (refusing, unreachable):
        await subscribe(rest, sink["sid"], TYPE)
    events = [sample(account.sid) for _ in range(2)]
    await publish_when_routed(router, events)

    monitor = client_for(suite, account.sid, account.auth_token).monitor.v1

    async def logged() -> bool:
        found = await off_loop(monitor.alerts.list)
        refused = [a for a in found if a.resource_sid == refusing["sid"]]
        return len(refused) == 2 and any(a.resource_sid == unreachable["sid"] for a in found)

    await until(logged)
    # The receiver's 404s refuse each event for good (one attempt each); the closed port is
    # retried, an alert per attempt.
    alerts = await off_loop(monitor.alerts.list)
    assert {(a.resource_sid, a.error_code) for a in alerts} == {
        (refusing["sid"], "91305"),
        (unreachable["sid"], "91307"),
    }
    assert {a.log_level for a in alerts} == {"error"}
    assert all(a.account_sid == account.sid and a.sid.startswith("NO") and len(a.sid) == 34 for a in alerts)
    assert len({a.sid for a in alerts}) == len(alerts)
    assert [a.date_created for a in alerts] == sorted((a.date_created for a in alerts), reverse=True)

    # Filters: the level, and the dates (inclusive, to the second).
    assert await off_loop(monitor.alerts.list, log_level="warning") == []
    errors = await off_loop(monitor.alerts.list, log_level="error", start_date=started)
    assert {a.sid for a in alerts} <= {a.sid for a in errors}
    assert await off_loop(monitor.alerts.list, end_date=started - timedelta(seconds=1)) == []
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert await off_loop(monitor.alerts.list, start_date=future) == []
    newest = alerts[0]
    assert newest.date_created is not None
    same_second = await off_loop(
        monitor.alerts.list, start_date=newest.date_created, end_date=newest.date_created
    )
    assert newest.sid in {a.sid for a in same_second}

    # One alert, fetched: the same alert, with its sid and the sink as its resource.
    one = next(a for a in alerts if a.resource_sid == refusing["sid"])
    fetched = await off_loop(monitor.alerts(one.sid).fetch)
    assert (fetched.sid, fetched.error_code, fetched.resource_sid) == (one.sid, "91305", refusing["sid"])
    assert fetched.date_created == fetched.date_generated == one.date_created
    assert fetched.more_info == "https://www.twilio.com/docs/errors/91305"
    assert fetched.alert_text is not None and "httpResponse=404" in fetched.alert_text
    assert fetched.url is not None and fetched.url.endswith(f"/v1/Alerts/{one.sid}")
    # What was sent and what came back, as the attempt's detail keeps them (Twilio's fields,
    # form-encoded headers); the list leaves them out, as Twilio's does.
    destination = refusing["sink_configuration"]["destination"]
    assert fetched.request_method == "POST"
    assert fetched.request_url is not None and fetched.request_url.startswith(f"{destination}?bodySHA256=")
    assert fetched.request_headers is not None and "X-Twilio-Signature=" in fetched.request_headers
    assert fetched.response_body == "no such hook"
    assert fetched.response_headers is not None and "Content-Type=text%2Fplain" in fetched.response_headers
    assert one.request_method is None and one.response_body is None

    # Another account sees none of them.
    other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    theirs = client_for(suite, other.sid, other.auth_token).monitor.v1
    assert await off_loop(theirs.alerts.list) == []
    with pytest.raises(TwilioRestException) as missing:
        await off_loop(theirs.alerts(one.sid).fetch)
    assert missing.value.status == 404
    await rest.delete(f"/v1/Sinks/{unreachable['sid']}")


async def test_alerts_rest_shape_paging_and_refusals(
    router: router_pb2_grpc.RouterAsyncStub,
    rest: httpx.AsyncClient,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    def refuse(_record: Received) -> web.Response:
        return web.Response(status=400)

    receiver.responder = refuse
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    await subscribe(rest, sink["sid"], TYPE)
    await publish_when_routed(router, [sample(account.sid) for _ in range(3)])

    async def three() -> bool:
        return len((await rest.get("/v1/Alerts")).json()["alerts"]) == 3

    await until(three)
    first = (await rest.get("/v1/Alerts", params={"PageSize": 2, "LogLevel": "error"})).json()
    meta = first["meta"]
    assert meta["key"] == "alerts" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["previous_page_url"] is None and meta["next_page_url"] is not None
    assert "LogLevel=error" in meta["first_page_url"] and "LogLevel=error" in meta["next_page_url"]
    second = (await rest.get(meta["next_page_url"])).json()
    assert second["meta"]["next_page_url"] is None
    sids = [a["sid"] for a in first["alerts"] + second["alerts"]]
    assert len(set(sids)) == 3
    alert = first["alerts"][0]
    assert set(alert) == {
        "account_sid", "alert_text", "api_version", "date_created", "date_generated", "date_updated",
        "error_code", "log_level", "more_info", "request_method", "request_url", "request_variables",
        "resource_sid", "response_body", "response_headers", "request_headers", "sid", "url", "service_sid",
    }  # fmt: skip
    assert (alert["error_code"], alert["log_level"]) == ("91305", "error")
    exchange = {"request_method", "request_url", "request_headers", "response_body", "response_headers"}
    fetched = (await rest.get(f"/v1/Alerts/{alert['sid']}")).json()
    assert {k: v for k, v in fetched.items() if k not in exchange} == {
        k: v for k, v in alert.items() if k not in exchange
    }
    assert {k: alert[k] for k in exchange} == dict.fromkeys(exchange)
    assert fetched["request_method"] == "POST" and fetched["response_body"] == ""

    for params in (
        {"LogLevel": "fatal"},
        {"StartDate": "yesterday"},
        {"EndDate": "2026-12-07T10:00:00"},
        {"StartDate": "2026-12-07T10:00:01Z", "EndDate": "2026-12-07T10:00:00Z"},
        {"Sid": "NO1"},
    ):
        assert (await rest.get("/v1/Alerts", params=params)).status_code == 400, params
    for sid in ("NO" + "0" * 32, "NOT-ONE", sink["sid"]):
        assert (await rest.get(f"/v1/Alerts/{sid}")).status_code == 404, sid
    assert (await rest.get("/v1/Alerts", params={"LogLevel": "debug"})).json()["alerts"] == []
    today = datetime.now(UTC).date().isoformat()
    whole_day = await rest.get("/v1/Alerts", params={"StartDate": today, "EndDate": today})
    assert len(whole_day.json()["alerts"]) == 3
