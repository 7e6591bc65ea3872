"""Auth-token rotation and subaccount status in control's store and routing feed, on SQLite
and on a real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.change_signal import ChangeSignal
from runtime.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied, Unauthenticated
from runtime.token_cipher import TokenCipher, new_key
from services.control.accounts import AccountStore
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SinkStore
from services.control.subscriptions import Selector, SubscriptionStore

pytestmark = pytest.mark.integration

WEBHOOK = json.dumps({"destination": "https://example.com/hook", "method": "POST", "batch_events": False})
DELIVERED = "com.twilio.messaging.message.delivered"


class NoTests:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("these tests send no sink test")


class AnyType:
    async def pin(self, type_name: str, schema_version: int) -> int:
        return schema_version or 1

    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        return {"type": "object"}


async def refused(accounts: AccountStore, username: str, password: str) -> bool:
    try:
        await accounts.authenticate(username, password)
    except Unauthenticated as refusal:
        return refusal.twilio_code == 20003
    return False


async def test_a_secondary_auth_token_authenticates_until_promoted_or_deleted(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    cipher = TokenCipher(new_key())
    accounts = AccountStore(control_sessions, cipher=cipher)
    feed = RoutingFeed(control_sessions, ChangeSignal(), 0.1, cipher)
    account = await accounts.create("acme")
    old = account.auth_token
    with pytest.raises(FailedPrecondition):
        await accounts.promote(account.sid)  # nothing to promote
    with pytest.raises(NotFound):
        await accounts.delete_secondary(account.sid)

    made = await accounts.create_secondary(account.sid)
    new = made.secondary_auth_token
    assert new and new != old and made.secondary_auth_token_created is not None
    async with control_sessions() as session:
        stored = await session.scalar(
            text("SELECT secondary_auth_token FROM control_accounts WHERE sid = :sid"), {"sid": account.sid}
        )
    assert stored.startswith("enc:v1:") and new not in stored  # sealed at rest, as the auth token
    with pytest.raises(AlreadyExists):
        await accounts.create_secondary(account.sid)
    for token in (old, new):
        assert (await accounts.authenticate(account.sid, token))[0].sid == account.sid
    before = await feed.snapshot()
    assert {a.account.sid: a.account.auth_token for a in before.accounts}[
        account.sid
    ] == old  # the primary signs

    promoted = await accounts.promote(account.sid)
    assert (promoted.auth_token, promoted.secondary_auth_token) == (new, None)
    assert await refused(accounts, account.sid, old)
    assert (await accounts.authenticate(account.sid, new))[0].auth_token == new
    after = await feed.snapshot()
    assert after.revision > before.revision  # workers learn the new signing token
    assert {a.account.sid: a.account.auth_token for a in after.accounts}[account.sid] == new

    spare = (await accounts.create_secondary(account.sid)).secondary_auth_token
    assert spare is not None
    await accounts.delete_secondary(account.sid)
    assert await refused(accounts, account.sid, spare)
    assert (await accounts.authenticate(account.sid, new))[0].sid == account.sid
    assert not await refused(accounts, account.sid, new)
    assert await refused(accounts, account.sid, "")  # no secondary: an empty one matches nothing


async def test_only_a_parent_changes_a_subaccounts_status(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(control_sessions)
    parent = await accounts.create("parent")
    sub = await accounts.create("sub", owner_sid=parent.sid)
    stranger = await accounts.create("stranger")
    with pytest.raises(PermissionDenied):
        await accounts.update(sub.sid, sub.sid, None, "suspended")  # not itself
    with pytest.raises(PermissionDenied):
        await accounts.update(parent.sid, parent.sid, None, "closed")  # a main account: no parent
    with pytest.raises(NotFound):
        await accounts.update(sub.sid, parent.sid, None, "suspended")  # never its parent
    with pytest.raises(NotFound):
        await accounts.update(stranger.sid, sub.sid, None, "suspended")
    renamed = await accounts.update(sub.sid, sub.sid, "tenant", None)  # its own name: yes
    assert (renamed.friendly_name, renamed.status) == ("tenant", "active")


async def test_suspended_and_closed_subaccounts(control_sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = AccountStore(control_sessions)
    sinks = SinkStore(control_sessions, 10, NoTests())
    subscriptions = SubscriptionStore(control_sessions, 10, AnyType())
    feed = RoutingFeed(control_sessions, ChangeSignal(), 0.1)
    parent = await accounts.create("parent")
    sub = await accounts.create("sub", owner_sid=parent.sid)
    key, secret = await accounts.create_key(sub.sid, "ci")
    sink = await sinks.create(sub.sid, "hook", "webhook", WEBHOOK)
    subscription, _ = await subscriptions.create(sub.sid, "all", sink.sid, [Selector(DELIVERED, 0)])

    suspended = await accounts.update(parent.sid, sub.sid, None, "suspended")
    assert suspended.status == "suspended"
    assert await refused(accounts, sub.sid, sub.auth_token)
    assert await refused(accounts, key.sid, secret)
    snapshot = await feed.snapshot(with_auth_tokens=False)
    routed = {a.account.sid: a.account for a in snapshot.accounts}
    assert routed[sub.sid].suspended and not routed[parent.sid].suspended
    assert subscription.sid not in {
        s.sid for a in snapshot.accounts for s in a.subscriptions
    }  # routes nothing
    assert sink.sid in {s.sid for a in snapshot.accounts for s in a.sinks}  # events accepted before still go

    active = await accounts.update(parent.sid, sub.sid, None, "active")
    assert active.status == "active"
    assert (await accounts.authenticate(sub.sid, sub.auth_token))[0].sid == sub.sid
    snapshot = await feed.snapshot(with_auth_tokens=False)
    assert subscription.sid in {s.sid for a in snapshot.accounts for s in a.subscriptions}

    closed = await accounts.update(parent.sid, sub.sid, None, "closed")
    assert closed.status == "closed"
    assert await refused(accounts, sub.sid, sub.auth_token)
    with pytest.raises(FailedPrecondition):
        await accounts.update(parent.sid, sub.sid, None, "active")  # closed is final
    assert (await accounts.update(parent.sid, sub.sid, None, "closed")).status == "closed"
    assert (await sinks.find(sub.sid, None, "", 50, "")).items == []
    assert (await subscriptions.find(sub.sid, "", 50, ""))[0].items == []
    assert (await accounts.list_keys(sub.sid, 50, "")).items == []
    snapshot = await feed.snapshot(with_auth_tokens=False)
    assert sub.sid not in {a.account.sid for a in snapshot.accounts}
    assert (await accounts.get_visible(parent.sid, sub.sid)).status == "closed"
