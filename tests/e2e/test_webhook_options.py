"""A webhook sink signed as Standard Webhooks, with its owner's static headers — created and
read back by twilio-python, its secret shown to its owner and rotated, its events verified at a
real receiver by the `standardwebhooks` library (PyPI), the secret kept out of the delivery log,
the services' logs and control's database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks import Webhook, WebhookVerificationError
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from tests.e2e.test_cli import Evs
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

T = TypeVar("T")
TYPE = "com.twilio.messaging.message.delivered"
HEADERS = {"X-Tenant": "acme", "X-Api-Key": "receiver-side-key"}


async def off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, *args, **kwargs)


def at(receiver: Receiver, path: str) -> list[Received]:
    return [r for r in receiver.received if urlsplit(r.url).path == path]


def arrived(receiver: Receiver, event_id: str) -> bool:
    return any(e["id"] == event_id for r in at(receiver, "/signed") for e in r.events())


async def rotate(rest: httpx.AsyncClient, sid: str) -> str:
    rotated = await rest.post(f"/v1/Sinks/{sid}/Secret/Rotate")
    assert rotated.status_code == 201, rotated.text
    return str(rotated.json()["secret"])


async def first_signed_with(
    secret: str,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> Received:
    """Events published one by one until the workers sign with `secret` (they get it from
    the routing feed within moments): the first delivery it signs."""
    for _ in range(50):
        event = sample(account.sid)
        await publish_when_routed(router, [event])
        await receiver.wait_for(partial(arrived, event_id=event.id))
        [got] = [r for r in at(receiver, "/signed") if r.events()[0]["id"] == event.id]
        try:
            Webhook(secret).verify(got.body, got.headers)
            return got
        except WebhookVerificationError:
            await asyncio.sleep(0.2)
    raise AssertionError("the rotated secret never signed a delivery")


async def stored_signing_secrets(suite: Suite, sid: str) -> list[str]:
    engine = create_async_engine(suite.control_db)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT signing_secret FROM control_sinks WHERE sid = :sid"), {"sid": sid}
            )
            return [row[0] for row in found]
    finally:
        await engine.dispose()


async def test_standard_webhooks_sink_signed_verified_rotated_and_with_its_headers(
    suite: Suite,
    account: control_pb2.Account,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
) -> None:
    client = Client(account.sid, account.auth_token)
    client.events.base_url = suite.gateway_url
    events = client.events.v1
    configuration = {
        "destination": f"http://127.0.0.1:{receiver.port}/signed",
        "method": "POST",
        "batch_events": False,
        "signing": "standard-webhooks",
        "headers": HEADERS,
    }
    sink = await off_loop(
        events.sinks.create, description="signed", sink_type="webhook", sink_configuration=configuration
    )
    assert sink.status == "active" and sink.sink_configuration == configuration
    assert (await off_loop(events.sinks(sink.sid).fetch)).sink_configuration == configuration

    shown = await rest.get(f"/v1/Sinks/{sink.sid}/Secret")
    assert shown.status_code == 200, shown.text
    secret = shown.json()["secret"]
    assert secret.startswith("whsec_") and shown.json()["sink_sid"] == sink.sid
    assert (await rest.get(f"/v1/Sinks/{sink.sid}")).json()["links"]["signing_secret"] == str(shown.url)
    # Sealed at rest: control's database never holds it in the clear.
    [stored] = await stored_signing_secrets(suite, sink.sid)
    assert stored.startswith("enc:v1:") and secret not in stored

    await subscribe(rest, sink.sid, TYPE)
    event = sample(account.sid)
    await publish_when_routed(router, [event])
    await receiver.wait_for(lambda r: len(at(r, "/signed")) >= 1)
    [got] = at(receiver, "/signed")
    assert Webhook(secret).verify(got.body, got.headers)["id"] == event.id
    assert got.headers["webhook-id"] == event.id
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace(b"}", b', "x": 1}', 1), got.headers)
    assert {name: got.headers[name] for name in HEADERS} == HEADERS
    assert "X-Twilio-Signature" not in got.headers

    # The delivery log shows the signature as sent, hides the key-looking header, and the
    # secret is nowhere in it.
    base = f"/v1/Sinks/{sink.sid}/Deliveries"
    for _ in range(100):
        listed = (await rest.get(base)).json()["deliveries"]
        if listed:
            break
        await asyncio.sleep(0.2)
    detail = await rest.get(listed[0]["url"])
    request = detail.json()["request"]
    assert request["headers"]["webhook-signature"] == got.headers["webhook-signature"]
    assert request["headers"]["X-Api-Key"] == "[redacted]" and request["headers"]["X-Tenant"] == "acme"
    assert secret not in detail.text and secret.removeprefix("whsec_") not in detail.text

    # Rotated: the new secret signs what comes next, and the old one beside it for a day (as
    # Svix's rotation), so a receiver still verifying with it keeps working.
    new_secret = await rotate(rest, sink.sid)
    assert new_secret != secret
    fetched = (await rest.get(f"/v1/Sinks/{sink.sid}/Secret")).json()
    assert fetched["secret"] == new_secret and fetched["date_previous_expires"] > fetched["date_created"]
    last = await first_signed_with(new_secret, rest, router, receiver, account)
    assert len(last.headers["webhook-signature"].split(" ")) == 2
    Webhook(secret).verify(last.body, last.headers)
    # Rotated again: the first secret signs no more; the second still does, beside the third.
    third = await rotate(rest, sink.sid)
    last = await first_signed_with(third, rest, router, receiver, account)
    Webhook(new_secret).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(last.body, last.headers)
    [stored] = await stored_signing_secrets(suite, sink.sid)
    assert stored.startswith("enc:v1:")

    for seen in (secret, new_secret, third, *(s.removeprefix("whsec_") for s in (secret, new_secret, third))):
        assert seen not in suite.logs()


async def test_a_twilio_signed_sink_has_no_secret_and_bad_headers_are_refused(
    suite: Suite, account: control_pb2.Account, rest: httpx.AsyncClient, receiver: Receiver
) -> None:
    plain = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/plain")
    assert "signing_secret" not in plain["links"]
    for method, path in (("GET", "Secret"), ("POST", "Secret/Rotate")):
        answer = await rest.request(method, f"/v1/Sinks/{plain['sid']}/{path}")
        assert (answer.status_code, answer.json()["code"]) == (400, 91000), answer.text
        assert "standard-webhooks" in answer.json()["message"]
    missing = await rest.get("/v1/Sinks/DG00000000000000000000000000000000/Secret")
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)

    client = Client(account.sid, account.auth_token)
    client.events.base_url = suite.gateway_url
    for headers, named in (({"Connection": "close"}, "Connection"), ({"X-A": "a\r\nX-B: b"}, "X-A")):
        with pytest.raises(TwilioRestException) as refused:
            await off_loop(
                client.events.v1.sinks.create,
                description="bad headers",
                sink_type="webhook",
                sink_configuration={
                    "destination": f"http://127.0.0.1:{receiver.port}/x",
                    "method": "POST",
                    "headers": headers,
                },
            )
        assert (refused.value.status, refused.value.code) == (400, 91000)
        assert "headers" in refused.value.msg and named in refused.value.msg


async def test_evs_creates_a_signed_sink_with_headers_and_shows_and_rotates_its_secret(
    suite: Suite, account: control_pb2.Account, receiver: Receiver, tmp_path: Path
) -> None:
    evs = Evs(suite, tmp_path / "evs.json")
    await evs("profiles", "add", "dev", "--url", suite.gateway_url, "--account-sid", account.sid,
              "--auth-token", account.auth_token)  # fmt: skip
    sink = await evs.json("sinks", "create", "--description", "signed by evs", "--destination",
                          f"http://127.0.0.1:{receiver.port}/evs", "--signing", "standard-webhooks",
                          "--header", "X-Tenant=acme", "--header", "X-Empty=")  # fmt: skip
    assert sink["sink_configuration"]["signing"] == "standard-webhooks"
    assert sink["sink_configuration"]["headers"] == {"X-Tenant": "acme", "X-Empty": ""}
    shown = await evs.json("sinks", "secret", sink["sid"])
    rotated = await evs.json("sinks", "rotate-secret", sink["sid"])
    assert shown["secret"].startswith("whsec_") and rotated["secret"] != shown["secret"]
    assert (await evs.json("sinks", "secret", sink["sid"]))["secret"] == rotated["secret"]
    refused = await evs("sinks", "create", "--description", "x", "--destination", "http://127.0.0.1:9/x",
                        "--header", "Host=elsewhere", ok=False)  # fmt: skip
    assert refused.returncode != 0 and "Host" in refused.stderr + refused.stdout
