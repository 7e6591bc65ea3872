"""Control's side of routing held on demand, on SQLite and a real PostgreSQL: a fetch
brings the accounts asked for with their owners and the revision they were read at; a cold
start of the feed brings no account but those with an ordered subscription."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.change_signal import ChangeSignal
from services.control.accounts import AccountStore
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SinkStore
from services.control.subscriptions import Selector, SubscriptionStore
from tests.integration.test_account_credentials import DELIVERED, WEBHOOK, AnyType, NoTests

pytestmark = pytest.mark.integration


class TypeWithTo(AnyType):
    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        return {"type": "object", "properties": {"to": {"type": "string"}}}


async def test_a_fetch_brings_the_accounts_with_their_owners_as_of_a_revision(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(control_sessions)
    sinks = SinkStore(control_sessions, 10, NoTests())
    feed = RoutingFeed(control_sessions, ChangeSignal(), 0.1)
    parent = await accounts.create("parent")
    sub = await accounts.create("sub", owner_sid=parent.sid)
    sink = await sinks.create(parent.sid, "hook", "webhook", WEBHOOK)
    before = (await feed.snapshot(with_auth_tokens=False)).revision
    unknown = "AC" + "f" * 32
    fetched = await feed.fetch([sub.sid, unknown], with_auth_tokens=False)
    by_sid = {a.account.sid: a for a in fetched.accounts}
    assert set(by_sid) == {sub.sid, parent.sid, unknown}  # the owner comes along
    assert by_sid[unknown].gone and not by_sid[sub.sid].gone
    assert [s.sid for s in by_sid[parent.sid].sinks] == [sink.sid]
    assert fetched.as_of == before
    await sinks.create(parent.sid, "second", "webhook", WEBHOOK)
    again = await feed.fetch([parent.sid], with_auth_tokens=False)
    assert again.as_of > before and len(again.accounts[0].sinks) == 2


async def test_a_cold_start_on_demand_brings_only_the_accounts_with_ordered_subscriptions(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(control_sessions)
    sinks = SinkStore(control_sessions, 10, NoTests())
    subscriptions = SubscriptionStore(control_sessions, 10, TypeWithTo())
    feed = RoutingFeed(control_sessions, ChangeSignal(), 0.1, page_accounts=2)
    for i in range(5):
        plain = await accounts.create(f"plain {i}")
        sink = await sinks.create(plain.sid, "hook", "webhook", WEBHOOK)
        await subscriptions.create(plain.sid, "all", sink.sid, [Selector(DELIVERED, 0)])
    ordered = []
    for i in range(3):
        account = await accounts.create(f"ordered {i}")
        sink = await sinks.create(account.sid, "hook", "webhook", WEBHOOK)
        await subscriptions.create(
            account.sid, "by key", sink.sid, [Selector(DELIVERED, 0)], ordering_key="to"
        )
        ordered.append(account.sid)
    latest = (await feed.snapshot(with_auth_tokens=False)).revision
    cold = [m async for m in feed.changes(0, with_auth_tokens=False, on_demand=True)]
    assert cold[0].reset and not any(m.reset for m in cold[1:])
    assert [m.revision for m in cold] == [0] * (len(cold) - 1) + [latest]
    assert sorted(a.account.sid for m in cold for a in m.accounts) == sorted(ordered)
    # Changes after it are every changed account's, as for any watcher: the watcher keeps
    # the ones it holds.
    late = await accounts.create("late")
    [change] = [m async for m in feed.changes(latest, with_auth_tokens=False, on_demand=True)]
    assert [a.account.sid for a in change.accounts] == [late.sid] and change.as_of >= latest
