"""The delivery log, dead letters and their redrive, and replay — through REST, end to end."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from eventstreams.v1 import control_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe, wait_health

pytestmark = pytest.mark.e2e


async def poll(rest: httpx.AsyncClient, url: str, key: str, count: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = (await rest.get(url)).json()[key]
        if len(items) >= count or time.monotonic() > deadline:
            return list(items)
        await asyncio.sleep(0.2)


async def test_dead_letters_redrive_and_replay(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    accepting = False

    def respond(_record: Received) -> web.Response:
        return web.Response(status=200 if accepting else 410)

    receiver.responder = respond
    started = datetime.now(UTC) - timedelta(seconds=1)
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered")
    events = [sample(account.sid) for _ in range(3)]
    await publish_when_routed(router, events)
    ids = sorted(e.id for e in events)

    base = f"/v1/Sinks/{sink['sid']}"
    letters = await poll(rest, f"{base}/DeadLetters", "dead_letters", 3)
    assert sorted(d["event_id"] for d in letters) == ids
    assert {(d["error_code"], d["status_code"], d["date_redriven"]) for d in letters} == {(91305, 410, None)}
    assert sorted(d["event"]["id"] for d in letters) == ids
    attempts = await poll(rest, f"{base}/Deliveries?Outcome=failed", "deliveries", 3)
    assert sorted(a["event_id"] for a in attempts) == ids
    assert all(a["status_code"] == 410 and a["attempt"] == 1 for a in attempts)

    accepting = True
    one = letters[0]["sid"]
    redriven = await rest.post(f"{base}/DeadLetters/Redrive", data={"Sid": one})
    assert (redriven.status_code, redriven.json()) == (201, {"redriven": 1})
    await receiver.wait_for(
        lambda r: sum(1 for rec in r.received if rec.events()[0]["id"] == letters[0]["event_id"]) >= 2
    )
    rest_of_them = await rest.post(f"{base}/DeadLetters/Redrive")
    assert rest_of_them.json() == {"redriven": 2}
    await receiver.wait_for(lambda r: len(r.received) >= 6)
    assert len(await poll(rest, f"{base}/DeadLetters?Redriven=true", "dead_letters", 3)) == 3
    assert (await rest.get(f"{base}/DeadLetters?Redriven=false")).json()["dead_letters"] == []
    delivered = await poll(rest, f"{base}/Deliveries?Outcome=delivered", "deliveries", 3)
    assert sorted(a["event_id"] for a in delivered) == ids

    before = len(receiver.received)
    replay = await rest.post(
        f"{base}/Replays", data={"StartTime": started.isoformat().replace("+00:00", "Z")}
    )
    assert replay.status_code == 201, replay.text
    assert replay.json()["status"] in ("submitted", "running", "completed")
    url = f"{base}/Replays/{replay.json()['sid']}"
    deadline = time.monotonic() + 20
    while (state := (await rest.get(url)).json())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
    assert state["status"] == "completed", state
    # Three originals and three redriven copies lie in the window.
    assert state["events_replayed"] == 6
    # How far back replays reach now: the oldest archived event, no later than this test's.
    reach = datetime.fromisoformat(state["archive_starts_at"].replace("Z", "+00:00"))
    assert datetime.now(UTC) - timedelta(days=7) < reach < datetime.now(UTC)
    await receiver.wait_for(lambda r: len(r.received) >= before + 6)
    replayed_ids = sorted(rec.events()[0]["id"] for rec in receiver.received[before:])
    assert replayed_ids == sorted(ids * 2)
    assert [r["sid"] for r in (await rest.get(f"{base}/Replays")).json()["replays"]] == [state["sid"]]
    cancel = await rest.post(url, data={"Status": "cancelling"})
    assert cancel.status_code == 400


async def test_replay_window_and_tenancy(rest: httpx.AsyncClient, suite, control) -> None:  # type: ignore[no-untyped-def]
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    base = f"/v1/Sinks/{sink['sid']}"
    too_old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    for form in (
        {"StartTime": too_old},
        {"StartTime": "yesterday"},
        {},
        {"StartTime": "2030-01-01T00:00:00Z"},
        {"StartTime": "2026-01-01T00:00:00"},
    ):
        assert (await rest.post(f"{base}/Replays", data=form)).status_code == 400, form
    assert (await rest.get(f"{base}/Replays")).json()["replays"] == []
    other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(other.sid, other.auth_token)) as intruder:
        for method, path in [
            ("GET", "/Deliveries"),
            ("GET", "/DeadLetters"),
            ("POST", "/DeadLetters/Redrive"),
            ("GET", "/Replays"),
            ("POST", "/Replays"),
        ]:
            response = await intruder.request(method, base + path)
            assert (response.status_code, response.json()["code"]) == (404, 20404), path


async def test_sink_health_shows_state_last_error_and_the_last_hour(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    def respond(record: Received) -> web.Response:
        return web.Response(status=503 if urlsplit(record.url).path == "/down" else 200)

    receiver.responder = respond
    up = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/up")
    down = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/down")
    await subscribe(rest, up["sid"], "com.twilio.messaging.message.delivered")
    await subscribe(rest, down["sid"], "com.twilio.messaging.message.failed")
    # Nothing delivered yet, nothing held: idle, no figures.
    fresh = (await rest.get(f"/v1/Sinks/{up['sid']}/Health")).json()
    assert fresh["state"] == "idle" and fresh["last_error"] is None
    assert fresh["last_hour"] == {"delivered": 0, "retried": 0, "failed": 0, "latency_ms": None}

    await publish_when_routed(router, [sample(account.sid) for _ in range(10)])
    await publish_when_routed(router, [sample(account.sid, "com.twilio.messaging.message.failed")])

    healthy = await wait_health(rest, up["sid"], lambda b: b["last_hour"]["delivered"] >= 10)
    latency = healthy["last_hour"]["latency_ms"]
    assert latency["samples"] >= 10 and 0 <= latency["p50"] <= latency["p95"] <= latency["p99"]
    assert healthy["state"] in ("healthy", "idle") and healthy["last_error"] is None
    assert healthy["url"].endswith(f"/v1/Sinks/{up['sid']}/Health")

    failing = await wait_health(rest, down["sid"], lambda b: b["state"] == "failing")
    assert failing["failing_since"] and failing["workers"] >= 1
    assert failing["last_error"]["status_code"] == 503 and failing["last_error"]["code"]
    assert failing["last_hour"]["retried"] >= 1 and failing["last_hour"]["delivered"] == 0

    # Another account's sink does not exist here.
    other = await rest.get(f"/v1/Sinks/DG{'0' * 32}/Health")
    assert other.status_code == 404 and other.json()["code"] == 20404


async def test_deliveries_filtered_by_time_and_type_on_the_server(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    """StartDate/EndDate (inclusive, the error log's forms) and EventType are the server's:
    the paging links carry them, a bad value is a 400 with Twilio's body."""
    receiver.responder = lambda _record: web.Response(status=200)
    sent, delivered = "com.twilio.messaging.message.sent", "com.twilio.messaging.message.delivered"
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    await subscribe(rest, sink["sid"], sent, delivered)
    events = [sample(account.sid, sent) for _ in range(3)] + [
        sample(account.sid, delivered) for _ in range(2)
    ]
    await publish_when_routed(router, events)
    base = f"/v1/Sinks/{sink['sid']}/Deliveries"
    assert len(await poll(rest, base, "deliveries", 5)) == 5

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    now = datetime.now(UTC)
    today = now.date().isoformat()
    window = {"StartDate": stamp(now - timedelta(minutes=5)), "EndDate": stamp(now)}
    typed = (await rest.get(base, params={**window, "EventType": sent})).json()["deliveries"]
    assert sorted(a["event_id"] for a in typed) == sorted(e.id for e in events[:3])
    assert {a["type"] for a in typed} == {sent}
    whole_day = await rest.get(base, params={"StartDate": today, "EndDate": today, "EventType": delivered})
    assert sorted(a["event_id"] for a in whole_day.json()["deliveries"]) == sorted(e.id for e in events[3:])
    later = {"StartDate": stamp(now + timedelta(minutes=1))}
    earlier = {"EndDate": (now - timedelta(days=1)).date().isoformat()}
    for params in (later, earlier, {"EventType": "com.twilio.messaging.message.read"}):
        assert (await rest.get(base, params=params)).json()["deliveries"] == [], params

    # Paged one by one with the filters: every link keeps them.
    query = {**window, "EventType": sent, "PageSize": "1"}
    page = (await rest.get(base, params=query)).json()
    seen = [a["event_id"] for a in page["deliveries"]]
    while page["meta"]["next_page_url"]:
        link = page["meta"]["next_page_url"]
        assert all(f"{k}=" in link for k in ("StartDate", "EndDate", "EventType")), link
        page = (await rest.get(link)).json()
        seen += [a["event_id"] for a in page["deliveries"]]
    assert seen == [a["event_id"] for a in typed]
    assert (
        "EventType=" in page["meta"]["first_page_url"] and "EventType=" in page["meta"]["previous_page_url"]
    )

    for params in (
        {"StartDate": "yesterday"},
        {"EndDate": "2026-12-07T10:00:00"},
        {"StartDate": "2026-12-07T10:00:01Z", "EndDate": "2026-12-07T10:00:00Z"},
        {"EventType": "com.example\x01"},
        {"Since": today},
    ):
        refused = await rest.get(base, params=params)
        assert refused.status_code == 400, (params, refused.text)
        body = refused.json()
        assert set(body) == {"code", "message", "more_info", "status"} and body["status"] == 400, body
