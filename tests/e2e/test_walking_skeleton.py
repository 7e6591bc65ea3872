"""REST creates a webhook sink and a subscription, a producer publishes through gRPC, a real
HTTP receiver gets the CloudEvent, and twilio-python's RequestValidator accepts it."""

from __future__ import annotations

import json

import httpx
import pytest

from devkit.receiver import Receiver, signature_valid
from eventstreams.v1 import control_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e


async def test_event_reaches_signed_webhook(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    url = f"http://127.0.0.1:{receiver.port}/events?customer=1"
    sink = await create_webhook_sink(rest, url)
    assert sink["status"] == "active"
    await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered", version=7)
    event = sample(account.sid)

    response = await publish_when_routed(router, [event])

    assert response.results[0].deliveries == 1
    await receiver.wait_for(lambda r: len(r.events()) >= 1)
    record = receiver.received[0]
    delivered = json.loads(record.body)
    assert isinstance(delivered, dict)
    assert delivered["specversion"] == "1.0"
    assert delivered["type"] == "com.twilio.messaging.message.delivered"
    assert delivered["id"] == event.id
    assert delivered["source"] == event.source
    assert delivered["dataschema"] == "https://events-schemas.twilio.com/Messaging.MessageStatus/7"
    assert delivered["datacontenttype"] == "application/json"
    assert delivered["time"].endswith("Z")
    assert delivered["data"] == json.loads(event.data_json)
    assert record.headers["Content-Type"] == "application/json"
    assert "bodySHA256=" in record.url
    assert signature_valid(account.auth_token, record)
    assert not signature_valid("0" * 32, record)
