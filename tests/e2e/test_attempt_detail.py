"""An attempt's request and response, and resending one event from the log — through REST
and the real processes, end to end."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import nats
import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

PASSWORD = "pa55-w0rd-in-the-url"
QUERY_SECRET = "qs-t0ken-in-the-url"


def at(receiver: Receiver, path: str) -> list[Received]:
    return [r for r in receiver.received if urlsplit(r.url).path == path]


async def deliveries(
    rest: httpx.AsyncClient, url: str, want: int, timeout: float = 20.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items = list((await rest.get(url)).json()["deliveries"])
        if len(items) >= want or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.2)


async def test_an_attempt_shows_its_call_and_a_resend_delivers_it_again(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
    suite: Suite,
) -> None:
    answers = {"refuse": True}

    def respond(record: Received) -> web.Response:
        if (
            answers["refuse"] and urlsplit(record.url).path == "/hook"
        ):  # a 4xx: a dead letter at once, no retries
            return web.Response(status=410, text="gone for now", headers={"X-Receiver": "one"})
        return web.Response(status=200, text="ok")

    receiver.responder = respond
    destination = f"http://hook-user:{PASSWORD}@127.0.0.1:{receiver.port}/hook?token={QUERY_SECRET}&a=1"
    sink = await create_webhook_sink(rest, destination)
    await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered")
    # Another subscriber of the same events: a resend is not its business.
    other_sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/other")
    await subscribe(rest, other_sink["sid"], "com.twilio.messaging.message.delivered")
    event = sample(account.sid)
    await publish_when_routed(router, [event])
    base = f"/v1/Sinks/{sink['sid']}/Deliveries"

    [failed] = await deliveries(rest, f"{base}?Outcome=failed", 1)
    assert failed["triggered_by"] is None and failed["status_code"] == 410
    shown = await rest.get(failed["url"])
    assert shown.status_code == 200, shown.text
    detail = shown.json()
    request, response = detail["request"], detail["response"]
    assert request["method"] == "POST"
    assert request["url"].startswith(f"http://127.0.0.1:{receiver.port}/hook?")
    assert "bodySHA256=" in request["url"] and "a=1" in request["url"]
    assert request["body"] == {"form": "event", "bytes": len(at(receiver, "/hook")[0].body), "events": 1}
    # The signature header as sent; the receiver checks it against the same URL.
    assert request["headers"]["X-Twilio-Signature"] == at(receiver, "/hook")[0].headers["X-Twilio-Signature"]
    assert request["headers"]["Authorization"] == "[redacted]"
    assert (response["status"], response["body"]) == (410, "gone for now")
    assert response["headers"]["X-Receiver"] == "one" and response["latency_ms"] >= 0
    # No credential of the URL, nor the account's auth token, anywhere in what is served.
    basic = base64.b64encode(f"hook-user:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, QUERY_SECRET, basic, account.auth_token):
        assert secret not in shown.text, secret
    assert detail["links"]["resend"].endswith(f"{base}/{failed['id']}/Resend")

    answers["refuse"] = False
    resent = await rest.post(f"{base}/{failed['id']}/Resend")
    assert resent.status_code == 201, resent.text
    body = resent.json()
    assert body["sid"].startswith("RS") and body["event_id"] == event.id
    assert (body["delivery_id"], body["status"]) == (failed["id"], "queued")
    await receiver.wait_for(lambda r: len(at(r, "/hook")) >= 2)
    [again] = await deliveries(rest, f"{base}?Outcome=delivered", 1)
    assert (again["event_id"], again["triggered_by"], again["attempt"]) == (event.id, "resend", 1)
    assert at(receiver, "/hook")[1].body == at(receiver, "/hook")[0].body
    assert (await rest.get(again["url"])).json()["response"]["status"] == 200

    # A delivered attempt can be resent too.
    assert (await rest.post(f"{base}/{again['id']}/Resend")).status_code == 201
    await receiver.wait_for(lambda r: len(at(r, "/hook")) >= 3)

    # Not another tenant's: its sink, its attempt, its resend do not exist for them.
    other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(other.sid, other.auth_token)) as intruder:
        for method, path in (("GET", f"{base}/{failed['id']}"), ("POST", f"{base}/{failed['id']}/Resend")):
            refused = await intruder.request(method, path)
            assert (refused.status_code, refused.json()["code"]) == (404, 20404), path
    # An attempt that is not there (or not a number): Twilio's 404.
    for missing in (f"{base}/999999999999", f"{base}/nope"):
        for method, path in (("GET", missing), ("POST", f"{missing}/Resend")):
            answer = await rest.request(method, path)
            assert (answer.status_code, answer.json()["code"], answer.json()["status"]) == (404, 20404, 404)
    await asyncio.sleep(0.5)
    assert len(at(receiver, "/hook")) == 3  # each resend went once, to this sink alone
    assert len(at(receiver, "/other")) == 1

    # An event the replay archive no longer holds (past its age or its byte cap, as here once
    # purged) cannot be resent: said so, in Twilio's body.
    nc = await nats.connect(suite.nats_url)
    try:
        await nc.jetstream().purge_stream("EVENTS_ARCHIVE", subject=f"events.*.{sink['sid']}")
    finally:
        await nc.close()
    gone = await rest.post(f"{base}/{failed['id']}/Resend")
    assert (gone.status_code, gone.json()["code"]) == (404, 20404), gone.text
    assert "no longer in the replay archive" in gone.json()["message"]
