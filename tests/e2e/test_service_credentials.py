"""Each caller's own credential against the real services: a producer publishes and can do
nothing else of the platform; only delivery reads accounts' auth tokens; the gateway and the
router get what their jobs need and no more."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from devkit.suite import Suite
from eventstreams.v1 import (
    control_pb2,
    control_pb2_grpc,
    delivery_pb2,
    delivery_pb2_grpc,
    router_pb2,
    router_pb2_grpc,
)
from tests.helpers import sample

pytestmark = pytest.mark.e2e


async def first_snapshot(suite: Suite, caller: str, with_auth_tokens: bool) -> control_pb2.RoutingChanges:
    async with suite.channel("control", as_caller=caller) as channel:
        stream = control_pb2_grpc.ControlStub(channel).WatchRouting(
            control_pb2.WatchRoutingRequest(with_auth_tokens=with_auth_tokens)
        )
        # A cold start's pages, up to the one that brings the revision.
        whole = control_pb2.RoutingChanges()
        while not whole.revision:
            page = await stream.read()
            assert isinstance(page, control_pb2.RoutingChanges)
            whole.accounts.extend(page.accounts)
            whole.revision = page.revision
        stream.cancel()
        return whole


async def refused(call: Callable[[], Awaitable[Any]]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call()
    code: grpc.StatusCode = error.value.code()
    return code


async def test_a_producer_publishes_and_may_do_nothing_else(
    suite: Suite, account: control_pb2.Account
) -> None:
    async with suite.channel("router", as_caller="producer") as channel:
        reply = await router_pb2_grpc.RouterStub(channel).Publish(
            router_pb2.PublishRequest(events=[sample(account.sid)])
        )
        assert len(reply.results) == 1
    async with suite.channel("control", as_caller="producer") as channel:
        control = control_pb2_grpc.ControlStub(channel)
        denied = grpc.StatusCode.PERMISSION_DENIED
        assert await refused(lambda: first_snapshot(suite, "producer", with_auth_tokens=True)) == denied
        assert await refused(lambda: first_snapshot(suite, "producer", with_auth_tokens=False)) == denied
        create_key = control_pb2.CreateApiKeyRequest(account_sid=account.sid)
        assert await refused(lambda: control.CreateApiKey(create_key)) == denied
        assert await refused(lambda: control.ListAccounts(control_pb2.ListAccountsRequest())) == denied
        get = control_pb2.GetAccountRequest(account_sid=account.sid, sid=account.sid)
        assert await refused(lambda: control.GetAccount(get)) == denied
    async with suite.channel("delivery", as_caller="producer") as channel:
        attempts = delivery_pb2.ListAttemptsRequest(account_sid=account.sid)
        assert await refused(lambda: delivery_pb2_grpc.DeliveryStub(channel).ListAttempts(attempts)) == denied


async def test_only_delivery_reads_the_accounts_auth_tokens(
    suite: Suite, account: control_pb2.Account
) -> None:
    signing = await first_snapshot(suite, "delivery", with_auth_tokens=True)
    tokens = {routed.account.sid: routed.account.auth_token for routed in signing.accounts}
    assert tokens[account.sid] == account.auth_token
    routing = await first_snapshot(suite, "router", with_auth_tokens=False)
    assert account.sid in {routed.account.sid for routed in routing.accounts}
    assert all(not routed.account.auth_token for routed in routing.accounts)
    for caller in ("router", "gateway", "control", "admin"):
        code = await refused(functools.partial(first_snapshot, suite, caller, with_auth_tokens=True))
        assert code == grpc.StatusCode.PERMISSION_DENIED, caller


async def test_the_gateway_may_not_publish_or_watch_routing(
    suite: Suite, account: control_pb2.Account
) -> None:
    denied = grpc.StatusCode.PERMISSION_DENIED
    assert await refused(lambda: first_snapshot(suite, "gateway", with_auth_tokens=False)) == denied
    async with suite.channel("router", as_caller="gateway") as channel:
        publish = router_pb2.PublishRequest(events=[sample(account.sid)])
        assert await refused(lambda: router_pb2_grpc.RouterStub(channel).Publish(publish)) == denied
