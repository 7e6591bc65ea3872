"""The webhook driver's options against a real local receiver: Standard Webhooks signatures
checked by the `standardwebhooks` library (PyPI), not by our code — one event and a batch,
retries keeping their webhook-id, a tampered body refused — and the owner's static headers
on every call, while Twilio's signature stays as it was."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from twilio.request_validator import RequestValidator

from devkit.receiver import Receiver
from runtime import sink_configs
from runtime.sids import AccountSid, EventId
from runtime.sinks.webhook import new_signing_secret
from services.delivery.errors import Misconfigured
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.webhook import WebhookDriver

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "0" * 32
TOKEN = "0123456789abcdef0123456789abcdef"
HEADERS = {"X-Tenant": "acme", "Authorization": "Bearer receiver-key", "User-Agent": "acme-hooks/1.0"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.start()
    yield made
    await made.stop()


@pytest.fixture
async def driver() -> AsyncIterator[WebhookDriver]:
    made = WebhookDriver(5.0, allow_private=True, user_agent="ours/1.0")
    yield made
    await made.close()


def event(n: int) -> SinkEvent:
    payload = json.dumps({"id": f"ev-{n}", "type": "com.twilio.messaging.message.sent", "data": {"n": n}})
    return SinkEvent(
        EventId(f"ev-{n}"), "com.twilio.messaging.message.sent", AccountSid(ACCOUNT), payload.encode()
    )


def spec(receiver: Receiver, secret: str = "", **config: object) -> SinkSpec:
    parsed = sink_configs.from_dict(
        "webhook", {"destination": f"http://127.0.0.1:{receiver.port}/hook?a=1", "method": "POST", **config}
    )
    return SinkSpec("DG" + "1" * 32, ACCOUNT, parsed, TOKEN, secret)


async def test_one_event_is_signed_as_standard_webhooks_and_the_library_verifies_it(
    driver: WebhookDriver, receiver: Receiver
) -> None:
    secret = new_signing_secret()
    sink = driver.open(spec(receiver, secret, signing="standard-webhooks", headers=HEADERS))
    await sink.prepare()
    [outcome] = await sink.deliver([event(1)])
    assert outcome.delivered, outcome.error
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["id"] == "ev-1"
    assert got.headers["webhook-id"] == "ev-1"
    # Sent to the URL as configured: no bodySHA256, no Twilio signature.
    assert got.url.endswith("/hook?a=1") and "X-Twilio-Signature" not in got.headers
    for tampered in (got.body.replace(b'"n": 1', b'"n": 2'), got.body + b" "):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body, {**got.headers, "webhook-id": "ev-2"})
    # The owner's headers, theirs instead of our User-Agent.
    assert {name: got.headers[name] for name in HEADERS} == HEADERS
    # The delivery log's copy: the signature shown, the Authorization hidden, the secret nowhere.
    assert outcome.exchange is not None
    shown = dict(outcome.exchange.headers)
    assert shown["webhook-signature"] == got.headers["webhook-signature"]
    assert shown["Authorization"] == "[redacted]" and shown["X-Tenant"] == "acme"
    assert secret not in json.dumps(outcome.exchange.request())
    assert secret.removeprefix("whsec_") not in json.dumps(outcome.exchange.request())


async def test_a_retry_keeps_its_webhook_id_and_a_batch_is_signed_as_sent(
    driver: WebhookDriver, receiver: Receiver
) -> None:
    secret = new_signing_secret()
    one = driver.open(spec(receiver, secret, signing="standard-webhooks"))
    await one.deliver([event(1)])
    await one.deliver([event(1)])
    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == "ev-1"
    batched = driver.open(spec(receiver, secret, signing="standard-webhooks", batch_events=True))
    await batched.deliver([event(1), event(2)])
    await batched.deliver([event(1), event(2)])
    await batched.deliver([event(1), event(3)])
    a, b, c = receiver.received[2:]
    for got in (a, b, c):
        assert Webhook(secret).verify(got.body, got.headers)[0]["id"] == "ev-1"
    # The same batch again is the same message; another batch is another, never an event's id.
    assert a.headers["webhook-id"] == b.headers["webhook-id"] != c.headers["webhook-id"]
    assert a.headers["webhook-id"].startswith("batch_")


async def test_after_a_rotation_the_old_secret_signs_beside_the_new_one_until_it_expires(
    driver: WebhookDriver, receiver: Receiver
) -> None:
    old, new = new_signing_secret(), new_signing_secret()
    config = sink_configs.from_dict(
        "webhook",
        {
            "destination": f"http://127.0.0.1:{receiver.port}/hook",
            "method": "POST",
            "signing": "standard-webhooks",
        },
    )
    for until in (time.time() + 3600, time.time() - 1):
        sink = driver.open(SinkSpec("DG" + "1" * 32, ACCOUNT, config, TOKEN, new, old, until))
        await sink.deliver([event(1)])
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


async def test_twilio_signing_is_unchanged_and_carries_the_owners_headers(
    driver: WebhookDriver, receiver: Receiver
) -> None:
    sink = driver.open(spec(receiver, headers={"X-Tenant": "acme"}))
    [outcome] = await sink.deliver([event(1)])
    assert outcome.delivered
    [got] = receiver.received
    assert RequestValidator(TOKEN).validate(got.url, got.body.decode(), got.headers["X-Twilio-Signature"])
    assert "bodySHA256=" in got.url and "webhook-signature" not in got.headers
    assert (got.headers["X-Tenant"], got.headers["User-Agent"]) == ("acme", "ours/1.0")


async def test_a_standard_webhooks_sink_without_its_secret_is_misconfigured(
    driver: WebhookDriver, receiver: Receiver
) -> None:
    sink = driver.open(spec(receiver, "", signing="standard-webhooks"))
    with pytest.raises(Misconfigured):
        await sink.prepare()
    assert receiver.received == []
