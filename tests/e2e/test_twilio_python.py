"""The official twilio-python library drives every operation of Events v1, and the
2010-04-01 Accounts/Keys subset, against the gateway — unchanged but for its base URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2
from tests.helpers import kinesis_external_id

pytestmark = pytest.mark.e2e

T = TypeVar("T")


def client_for(suite: Suite, username: str, password: str, account_sid: str | None = None) -> Client:
    client = Client(username, password, account_sid)
    client.events.base_url = suite.gateway_url
    client.api.base_url = suite.gateway_url
    client.monitor.base_url = suite.gateway_url  # Monitor v1 Alerts: the error log
    return client


async def off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """twilio-python blocks; the receiver lives on this loop — keep the loop free."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def test_types_and_schemas(suite: Suite, account: control_pb2.Account) -> None:
    events = client_for(suite, account.sid, account.auth_token).events.v1
    delivered = await off_loop(events.event_types("com.twilio.messaging.message.delivered").fetch)
    assert delivered.schema_id == "Messaging.MessageStatus"
    assert delivered.status == "available"
    assert delivered.links["schema"].endswith("/v1/Schemas/Messaging.MessageStatus/Versions")
    messaging = await off_loop(events.event_types.list, schema_id="Messaging.MessageStatus")
    assert {t.type for t in messaging} >= {
        "com.twilio.messaging.message.delivered",
        "com.twilio.messaging.message.sent",
    }
    everything = await off_loop(events.event_types.list, page_size=20)
    assert len(everything) == len({t.type for t in everything}) > 150  # every page, no repeats

    schema = await off_loop(events.schemas("Messaging.MessageStatus").fetch)
    assert schema.latest_version == 7
    versions = await off_loop(events.schemas("Messaging.MessageStatus").versions.list, page_size=3)
    assert [v.schema_version for v in versions] == [1, 2, 3, 4, 5, 6, 7]
    seventh = await off_loop(events.schemas("Messaging.MessageStatus").versions(7).fetch)
    assert seventh.raw == "https://events-schemas.twilio.com/Messaging.MessageStatus/7"


async def test_sink_lifecycle_test_and_validate(
    suite: Suite, account: control_pb2.Account, receiver: Receiver
) -> None:
    events = client_for(suite, account.sid, account.auth_token).events.v1
    sink = await off_loop(
        events.sinks.create,
        description="twilio-python sink",
        sink_type="webhook",
        sink_configuration={
            "destination": f"http://127.0.0.1:{receiver.port}/hook",
            "method": "POST",
            "batch_events": False,
        },
    )
    assert sink.sid.startswith("DG")
    assert sink.status == "active"
    assert sink.links["sink_test"].endswith(f"/v1/Sinks/{sink.sid}/Test")

    result = await off_loop(events.sinks(sink.sid).sink_test.create)
    assert result.result == "submitted"
    assert (await off_loop(events.sinks(sink.sid).fetch)).status == "validating"
    await receiver.wait_for(lambda r: len(r.events()) >= 1)
    test_event = receiver.events()[0]
    assert test_event["type"] == "com.twilio.eventstreams.test-event"
    assert test_event["id"] == account.sid
    assert test_event["source"] == "Sink"
    assert test_event["dataschema"] == "https://events-schemas.twilio.com/EventStreams.TestSink/1.json"

    with pytest.raises(TwilioRestException) as wrong:
        await off_loop(events.sinks(sink.sid).sink_validate.create, test_id="not-the-test-id")
    assert wrong.value.status == 400
    assert (await off_loop(events.sinks(sink.sid).fetch)).status == "validating"

    valid = await off_loop(events.sinks(sink.sid).sink_validate.create, test_id=test_event["data"]["test_id"])
    assert valid.result == "valid"
    assert (await off_loop(events.sinks(sink.sid).fetch)).status == "active"

    updated = await off_loop(events.sinks(sink.sid).update, description="renamed")
    assert updated.description == "renamed"
    assert [s.sid for s in await off_loop(events.sinks.list, status="active")] == [sink.sid]
    assert await off_loop(events.sinks.list, in_use=True) == []
    assert await off_loop(events.sinks(sink.sid).delete) is True
    assert await off_loop(events.sinks.list) == []


async def test_kinesis_and_segment_sinks_start_initialized(
    suite: Suite, account: control_pb2.Account, rest: httpx.AsyncClient
) -> None:
    events = client_for(suite, account.sid, account.auth_token).events.v1
    kinesis = await off_loop(
        events.sinks.create,
        description="kinesis",
        sink_type="kinesis",
        sink_configuration={
            "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/test",
            "role_arn": "arn:aws:iam::111111111111:role/Role",
            "external_id": await kinesis_external_id(rest),
        },
    )
    segment = await off_loop(
        events.sinks.create,
        description="segment",
        sink_type="segment",
        sink_configuration={"write_key": "KEY"},
    )
    assert (kinesis.status, segment.status) == ("initialized", "initialized")
    assert {s.sid for s in await off_loop(events.sinks.list, status="initialized")} == {
        kinesis.sid,
        segment.sid,
    }


async def test_subscriptions_and_subscribed_events(suite: Suite, account: control_pb2.Account) -> None:
    events = client_for(suite, account.sid, account.auth_token).events.v1
    sink = await off_loop(
        events.sinks.create,
        description="sink",
        sink_type="webhook",
        sink_configuration={
            "destination": "https://example.com/hook",
            "method": "POST",
            "batch_events": True,
        },
    )
    subscription = await off_loop(
        events.subscriptions.create,
        description="twilio-python subscription",
        sink_sid=sink.sid,
        types=[
            {"type": "com.twilio.messaging.message.delivered", "schema_version": 6},
            {"type": "com.twilio.messaging.message.failed"},
            {"type": "com.twilio.voice.webhook.status-callback.call.completed"},  # deprecated: accepted
        ],
    )
    assert subscription.sid.startswith("DF")
    assert subscription.sink_sid == sink.sid
    assert subscription.links["subscribed_events"].endswith("/SubscribedEvents")
    fetched = await off_loop(events.subscriptions(subscription.sid).fetch)
    assert fetched.description == "twilio-python subscription"
    assert [s.sid for s in await off_loop(events.subscriptions.list, sink_sid=sink.sid)] == [subscription.sid]
    assert [s.sid for s in await off_loop(events.sinks.list, in_use=True)] == [sink.sid]
    renamed = await off_loop(events.subscriptions(subscription.sid).update, description="renamed")
    assert renamed.description == "renamed"

    subscribed = events.subscriptions(subscription.sid).subscribed_events
    pinned = {e.type: e.schema_version for e in await off_loop(subscribed.list)}
    assert pinned == {
        "com.twilio.messaging.message.delivered": 6,
        "com.twilio.messaging.message.failed": 7,  # latest at subscribe time
        "com.twilio.voice.webhook.status-callback.call.completed": 2,
    }
    added = await off_loop(subscribed.create, type="com.twilio.messaging.message.sent", schema_version=5)
    assert (added.type, added.schema_version, added.subscription_sid) == (
        "com.twilio.messaging.message.sent",
        5,
        subscription.sid,
    )
    fetched_event = await off_loop(subscribed("com.twilio.messaging.message.sent").fetch)
    assert fetched_event.schema_version == 5
    repinned = await off_loop(subscribed("com.twilio.messaging.message.sent").update, schema_version=7)
    assert repinned.schema_version == 7
    assert await off_loop(subscribed("com.twilio.messaging.message.sent").delete) is True
    assert len(await off_loop(subscribed.list, page_size=1)) == 3

    # Subscribing again to a type re-pins it (Twilio answers 200), it does not duplicate it.
    again = await off_loop(subscribed.create, type="com.twilio.messaging.message.failed", schema_version=3)
    assert again.schema_version == 3
    assert len(await off_loop(subscribed.list)) == 3
    with pytest.raises(TwilioRestException) as discontinued:
        await off_loop(subscribed.create, type="com.twilio.conversations.delivery.updated")
    assert (discontinued.value.status, discontinued.value.code) == (400, 91104)

    assert await off_loop(events.subscriptions(subscription.sid).delete) is True
    assert await off_loop(events.subscriptions.list) == []
    assert (await off_loop(events.sinks(sink.sid).fetch)).status == "active"  # the sink survives


async def test_subaccounts_and_api_keys(suite: Suite, account: control_pb2.Account) -> None:
    parent = client_for(suite, account.sid, account.auth_token)
    sub = await off_loop(parent.api.v2010.accounts.create, friendly_name="tenant A")
    assert sub.sid.startswith("AC")
    assert sub.owner_account_sid == account.sid
    assert sub.friendly_name == "tenant A"
    assert (await off_loop(parent.api.v2010.accounts(sub.sid).fetch)).auth_token == sub.auth_token
    listed = {a.sid for a in await off_loop(parent.api.v2010.accounts.list)}
    assert listed == {account.sid, sub.sid}
    assert [a.sid for a in await off_loop(parent.api.v2010.accounts.list, friendly_name="tenant A")] == [
        sub.sid
    ]

    key = await off_loop(parent.api.v2010.account.new_keys.create, friendly_name="ci")
    assert key.sid.startswith("SK")
    assert key.secret
    assert [k.sid for k in await off_loop(parent.api.v2010.account.keys.list)] == [key.sid]

    # The key authenticates as its account; the subaccount sees only its own resources.
    by_key = client_for(suite, key.sid, key.secret, account.sid)
    await off_loop(
        by_key.events.v1.sinks.create,
        description="made with a key",
        sink_type="webhook",
        sink_configuration={"destination": "https://example.com/a", "method": "POST", "batch_events": False},
    )
    as_sub = client_for(suite, sub.sid, sub.auth_token)
    assert await off_loop(as_sub.events.v1.sinks.list) == []
    assert len(await off_loop(parent.events.v1.sinks.list)) == 1
    with pytest.raises(TwilioRestException) as not_parent:
        await off_loop(as_sub.api.v2010.accounts(account.sid).fetch)
    assert not_parent.value.status == 404

    assert await off_loop(parent.api.v2010.account.keys(key.sid).delete) is True
    with pytest.raises(TwilioRestException) as revoked:
        await off_loop(by_key.events.v1.sinks("DG" + "0" * 32).fetch)
    assert (revoked.value.status, revoked.value.code) == (401, 20003)


async def test_errors_become_twilio_rest_exceptions(suite: Suite, account: control_pb2.Account) -> None:
    events = client_for(suite, account.sid, account.auth_token).events.v1
    with pytest.raises(TwilioRestException) as missing:
        await off_loop(events.sinks("DG" + "0" * 32).fetch)
    assert (missing.value.status, missing.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as invalid:
        await off_loop(
            events.sinks.create,
            description="x",
            sink_type="webhook",
            sink_configuration={"destination": "nope"},
        )
    assert (invalid.value.status, invalid.value.code) == (400, 91000)
    wrong = client_for(suite, account.sid, "f" * 32).events.v1
    with pytest.raises(TwilioRestException) as unauthorized:
        await off_loop(wrong.sinks("DG" + "0" * 32).fetch)
    assert (unauthorized.value.status, unauthorized.value.code) == (401, 20003)
