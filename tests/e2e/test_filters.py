"""Subscription filters end to end: only matching events reach the sink."""

from __future__ import annotations

import json

import httpx
import pytest

from devkit.receiver import Receiver
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample

pytestmark = pytest.mark.e2e

FAILED = "com.twilio.messaging.message.failed"


def failed_event(account_sid: str, error_code: int) -> router_pb2.Event:
    event = sample(account_sid, FAILED)
    data = json.loads(event.data_json)
    data.update(messageStatus="FAILED", errorCode=error_code)
    event.data_json = json.dumps(data)
    return event


async def test_only_matching_events_are_delivered(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    created = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "only 30004",
            "SinkSid": sink["sid"],
            "Types": [json.dumps({"type": FAILED})],
            "Filter": "messageStatus == 'FAILED' AND errorCode == 30004",  # Twilio's own example
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["filter"] == "messageStatus == 'FAILED' AND errorCode == 30004"
    wanted = failed_event(account.sid, 30004)
    await publish_when_routed(router, [wanted])
    unwanted = failed_event(account.sid, 30005)
    [result] = (await router.Publish(router_pb2.PublishRequest(events=[unwanted]))).results
    assert (result.code, result.deliveries) == (0, 0)
    await receiver.wait_for(lambda r: len(r.events()) >= 1)

    # Clearing the filter lets everything through again.
    url = f"/v1/Subscriptions/{created.json()['sid']}"
    cleared = await rest.post(url, data={"Filter": ""})
    assert cleared.json()["filter"] is None
    await publish_when_routed(router, [failed_event(account.sid, 1)])
    await receiver.wait_for(lambda r: len(r.events()) >= 2)
    assert [e["data"]["errorCode"] for e in receiver.events()] == [30004, 1]


async def test_an_invalid_filter_is_refused_and_changes_nothing(rest: httpx.AsyncClient) -> None:
    sink = await create_webhook_sink(rest, "https://example.com/hook")
    refused = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "x",
            "SinkSid": sink["sid"],
            "Types": [json.dumps({"type": FAILED})],
            "Filter": "errorCode =",
        },
    )
    assert refused.status_code == 400
    assert "Invalid Filter" in refused.json()["message"]
    assert (await rest.get("/v1/Subscriptions")).json()["subscriptions"] == []


async def test_a_parent_receives_its_subaccounts_events_when_it_asks(
    suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,  # type: ignore[no-untyped-def]
    account: control_pb2.Account,
    control,  # type: ignore[no-untyped-def]
) -> None:
    from devkit.receiver import signature_valid

    child = await control.CreateAccount(
        control_pb2.CreateAccountRequest(friendly_name="child", owner_account_sid=account.sid)
    )
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/parent")
    created = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "all of my subaccounts' failures",
            "SinkSid": sink["sid"],
            "Types": [json.dumps({"type": FAILED})],
            "ReceiveEventsFromSubaccounts": "true",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["receive_events_from_subaccounts"] is True
    await publish_when_routed(router, [failed_event(child.sid, 30004)])
    await receiver.wait_for(lambda r: len(r.events()) >= 1)
    record = receiver.received[0]
    assert record.events()[0]["data"]["accountSid"] == child.sid
    assert signature_valid(account.auth_token, record)  # the sink's owner signs
