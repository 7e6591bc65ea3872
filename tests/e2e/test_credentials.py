"""A leaked auth token rotated and a subaccount suspended the Twilio way, driven by the
official twilio-python library against the suite: a secondary auth token, its promotion,
and a subaccount's Status (active | suspended | closed)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from devkit.receiver import Receiver, signature_valid
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2, router_pb2_grpc
from tests.e2e.test_twilio_python import off_loop
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e


def client_for(suite: Suite, username: str, password: str) -> Client:
    client = Client(username, password)
    client.events.base_url = suite.gateway_url
    client.api.base_url = suite.gateway_url
    client.accounts.base_url = suite.gateway_url
    return client


async def refused(client: Client) -> tuple[int, int]:
    """How a call with the client's credentials is answered: (404, 20404) when they
    authenticate (no such sink), (401, 20003) when they are refused."""
    with pytest.raises(TwilioRestException) as answer:
        await off_loop(client.events.v1.sinks("DG" + "0" * 32).fetch)
    return answer.value.status, answer.value.code


async def published_and_dropped(router: router_pb2_grpc.RouterAsyncStub, account_sid: str) -> str:
    """Publish until the router has heard of the suspension: an event accepted and routed
    nowhere (its id)."""
    for _ in range(50):
        answer = await router.Publish(router_pb2.PublishRequest(events=[sample(account_sid)]), timeout=10)
        (result,) = answer.results
        assert result.code == 0, result.message
        if result.deliveries == 0:
            return result.id
        await asyncio.sleep(0.1)
    raise AssertionError("events of a suspended account are still routed")


async def test_auth_token_rotation(
    suite: Suite,
    account: control_pb2.Account,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
) -> None:
    old = account.auth_token
    primary = client_for(suite, account.sid, old)
    secondary = await off_loop(primary.accounts.v1.secondary_auth_token().create)
    assert secondary.account_sid == account.sid
    assert secondary.secondary_auth_token and secondary.secondary_auth_token != old
    assert secondary.url.endswith("/v1/AuthTokens/Secondary")
    new = secondary.secondary_auth_token
    with pytest.raises(TwilioRestException) as again:
        await off_loop(primary.accounts.v1.secondary_auth_token().create)
    assert again.value.status == 409  # one secondary at a time: promote or delete it first

    # Both tokens authenticate while the secondary exists.
    assert await off_loop(primary.events.v1.sinks.list) == []
    rotated = client_for(suite, account.sid, new)
    assert await off_loop(rotated.events.v1.sinks.list) == []

    async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(account.sid, new), timeout=30) as rest:
        sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")

        promoted = await off_loop(rotated.accounts.v1.auth_token_promotion().update)
        assert (promoted.account_sid, promoted.auth_token) == (account.sid, new)
        assert await refused(primary) == (401, 20003)
        assert await off_loop(rotated.events.v1.sinks.list)
        with pytest.raises(TwilioRestException) as gone:  # the secondary became the primary
            await off_loop(rotated.accounts.v1.secondary_auth_token().delete)
        assert gone.value.status == 404

        # Subscribed after the promotion: the delivery is signed with the new primary.
        await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered", version=7)
    await publish_when_routed(router, [sample(account.sid)])
    await receiver.wait_for(lambda r: len(r.events()) >= 1)
    assert signature_valid(new, receiver.received[0])
    assert not signature_valid(old, receiver.received[0])

    # A secondary deleted unpromoted authenticates no more.
    spare = await off_loop(rotated.accounts.v1.secondary_auth_token().create)
    assert await off_loop(client_for(suite, account.sid, spare.secondary_auth_token).events.v1.sinks.list)
    assert await off_loop(rotated.accounts.v1.secondary_auth_token().delete) is True
    assert await refused(client_for(suite, account.sid, spare.secondary_auth_token)) == (401, 20003)
    with pytest.raises(TwilioRestException) as nothing:
        await off_loop(rotated.accounts.v1.auth_token_promotion().update)
    assert nothing.value.status == 400


async def test_subaccount_suspended_reactivated_closed(
    suite: Suite,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
) -> None:
    parent = client_for(suite, account.sid, account.auth_token)
    sub = await off_loop(parent.api.v2010.accounts.create, friendly_name="tenant")
    as_sub = client_for(suite, sub.sid, sub.auth_token)
    async with httpx.AsyncClient(
        base_url=suite.gateway_url, auth=(sub.sid, sub.auth_token), timeout=30
    ) as rest:
        sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
        await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered", version=7)
    await publish_when_routed(router, [sample(sub.sid)])
    await receiver.wait_for(lambda r: len(r.events()) >= 1)

    # Only the parent changes a subaccount's status: not the subaccount, not on its parent.
    with pytest.raises(TwilioRestException) as itself:
        await off_loop(as_sub.api.v2010.accounts(sub.sid).update, status="suspended")
    assert itself.value.status == 403
    with pytest.raises(TwilioRestException) as its_parent:
        await off_loop(as_sub.api.v2010.accounts(account.sid).update, status="suspended")
    assert its_parent.value.status == 404
    with pytest.raises(TwilioRestException) as own:
        await off_loop(parent.api.v2010.accounts(account.sid).update, status="suspended")
    assert own.value.status == 403
    with pytest.raises(TwilioRestException) as unknown:
        await off_loop(parent.api.v2010.accounts(sub.sid).update, status="paused")
    assert unknown.value.status == 400

    suspended = await off_loop(parent.api.v2010.accounts(sub.sid).update, status="suspended")
    assert suspended.status == "suspended"
    assert await refused(as_sub) == (401, 20003)
    dropped = await published_and_dropped(router, sub.sid)
    await asyncio.sleep(0.5)
    assert dropped not in {e["id"] for e in receiver.events()}

    renamed = await off_loop(parent.api.v2010.accounts(sub.sid).update, friendly_name="tenant (paused)")
    assert (renamed.friendly_name, renamed.status) == ("tenant (paused)", "suspended")
    active = await off_loop(parent.api.v2010.accounts(sub.sid).update, status="active")
    assert active.status == "active"
    assert await off_loop(as_sub.events.v1.sinks.list)
    again = sample(sub.sid)
    await publish_when_routed(router, [again])
    await receiver.wait_for(lambda r: again.id in {e["id"] for e in r.events()})

    closed = await off_loop(parent.api.v2010.accounts(sub.sid).update, status="closed")
    assert closed.status == "closed"
    assert await refused(as_sub) == (401, 20003)
    assert (await off_loop(parent.api.v2010.accounts(sub.sid).fetch)).status == "closed"
    listed = await control.ListSinks(control_pb2.ListSinksRequest(account_sid=sub.sid))
    assert list(listed.sinks) == []  # its resources are deleted with it
    with pytest.raises(TwilioRestException) as final:
        await off_loop(parent.api.v2010.accounts(sub.sid).update, status="active")
    assert final.value.status == 400
