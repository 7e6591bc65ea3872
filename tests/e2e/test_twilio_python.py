"""The official twilio-python library drives the gateway unchanged: only its base URL points here."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from devkit.suite import Suite
from eventstreams.v1 import control_pb2

pytestmark = pytest.mark.e2e


def client_for(suite: Suite, account: control_pb2.Account) -> Client:
    client = Client(account.sid, account.auth_token)
    client.events.base_url = suite.gateway_url
    return client


def test_sinks_subscriptions_and_types_through_twilio_python(
    suite: Suite, account: control_pb2.Account
) -> None:
    client = client_for(suite, account)
    sink = client.events.v1.sinks.create(
        description="twilio-python sink",
        sink_type="webhook",
        sink_configuration={
            "destination": "https://example.com/hook",
            "method": "POST",
            "batch_events": False,
        },
    )
    assert sink.sid.startswith("DG")
    assert sink.status == "active"
    assert sink.sink_configuration["destination"] == "https://example.com/hook"
    assert client.events.v1.sinks(sink.sid).fetch().description == "twilio-python sink"
    assert [s.sid for s in client.events.v1.sinks.list()] == [sink.sid]

    subscription = client.events.v1.subscriptions.create(
        description="twilio-python subscription",
        sink_sid=sink.sid,
        types=[
            {"type": "com.twilio.messaging.message.delivered", "schema_version": 7},
            {"type": "com.twilio.messaging.message.failed"},
        ],
    )
    assert subscription.sid.startswith("DF")
    assert subscription.sink_sid == sink.sid
    assert (
        client.events.v1.subscriptions(subscription.sid).fetch().description == "twilio-python subscription"
    )
    assert [s.sid for s in client.events.v1.subscriptions.list(sink_sid=sink.sid)] == [subscription.sid]

    delivered = client.events.v1.event_types("com.twilio.messaging.message.delivered").fetch()
    assert delivered.schema_id == "Messaging.MessageStatus"
    messaging = client.events.v1.event_types.list(schema_id="Messaging.MessageStatus")
    assert {t.type for t in messaging} >= {
        "com.twilio.messaging.message.delivered",
        "com.twilio.messaging.message.sent",
    }
    assert len(client.events.v1.event_types.list(page_size=20)) > 100  # pages through every type

    with pytest.raises(TwilioRestException) as caught:
        client.events.v1.sinks("DG" + "0" * 32).fetch()
    assert caught.value.status == 404
    assert caught.value.code == 20404
