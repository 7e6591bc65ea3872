"""Aggregate limits per account tree (a main account and its subaccounts), on SQLite and a
real PostgreSQL: a change that would pass one is refused with Twilio's error and stores
nothing, two concurrent changes at a limit never both pass, and a tree at every limit
costs the routing state its budget allows — measured on the serialized subscriptions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstreams.v1 import control_pb2
from runtime.errors import InvalidArgument, LimitExceeded, ServiceError
from services.control import limits, trees
from services.control.accounts import AccountStore
from services.control.limits import TreeLimits
from services.control.models import AccountRow, SinkRow, SubscribedEventRow, SubscriptionRow
from services.control.sinks import SinkStore
from services.control.subscriptions import Selector, SubscriptionStore

pytestmark = pytest.mark.integration

WEBHOOK = json.dumps({"destination": "https://example.com/hook", "method": "POST", "batch_events": False})
TYPES = [
    "com.twilio.messaging.message.delivered",
    "com.twilio.messaging.message.failed",
    "com.twilio.voice.insights.call-summary.complete",
    "com.twilio.studio.flow.execution.started",
]


class NoTests:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("these tests send no sink test")


class AnyType:
    async def pin(self, type_name: str, schema_version: int) -> int:
        return schema_version or 1

    async def document(self, type_name: str, schema_version: int) -> dict[str, Any]:
        return {"type": "object", "properties": {"to": {"type": "string"}}}


class Tree:
    """A main account's stores under `limits`, per-account limits out of the way."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tree: TreeLimits) -> None:
        self.sessions = sessions
        self.accounts = AccountStore(sessions, max_subaccounts=tree.subaccounts)
        self.sinks = SinkStore(sessions, 1000, NoTests(), tree=tree)
        self.subscriptions = SubscriptionStore(sessions, 1000, AnyType(), tree=tree)

    async def rows(self) -> tuple[int, int, int, int]:
        async with self.sessions() as session:
            counts = [
                await session.scalar(select(func.count()).select_from(table))
                for table in (AccountRow, SinkRow, SubscriptionRow, SubscribedEventRow)
            ]
        return (counts[0] or 0, counts[1] or 0, counts[2] or 0, counts[3] or 0)

    async def subscribe(
        self, account_sid: str, sink_sid: str, types: list[str], filter_text: str = ""
    ) -> str:
        row, _ = await self.subscriptions.create(
            account_sid, "d", sink_sid, [Selector(t, 0) for t in types], filter_text
        )
        return row.sid

    async def routed(self, root: str) -> list[control_pb2.RoutedSubscription]:
        """The tree's subscriptions as routers and workers receive them."""
        async with self.sessions() as session:
            members = select(AccountRow.sid).where(
                (AccountRow.sid == root) | (AccountRow.owner_account_sid == root)
            )
            rows = (
                await session.scalars(select(SubscriptionRow).where(SubscriptionRow.account_sid.in_(members)))
            ).all()
            events = (await session.scalars(select(SubscribedEventRow))).all()
        return [
            control_pb2.RoutedSubscription(
                sid=s.sid,
                account_sid=s.account_sid,
                sink_sid=s.sink_sid,
                types=[
                    control_pb2.TypeSelector(type=e.type, schema_version=e.schema_version)
                    for e in events
                    if e.subscription_sid == s.sid
                ],
                filter=s.filter or "",
                receive_events_from_subaccounts=s.receive_events_from_subaccounts,
                ordering_key=s.ordering_key or "",
            )
            for s in rows
        ]

    async def usage(self, root: str) -> limits.TreeUsage:
        async with self.sessions() as session:
            return await trees.usage(session, root)


def serialized_size(routed: list[control_pb2.RoutedSubscription]) -> int:
    """The bytes of `routed` as a repeated message field: each with its tag and length."""
    return sum(1 + len(varint(r.ByteSize())) + r.ByteSize() for r in routed)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def assert_refused(refusal: pytest.ExceptionInfo[ServiceError], kind: type, code: int) -> None:
    assert isinstance(refusal.value, kind)
    assert (refusal.value.http_status, refusal.value.twilio_code) == (400, code)


async def test_subscriptions_and_sinks_across_a_tree_are_limited(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = Tree(control_sessions, TreeLimits(sinks=3, subscriptions=3))
    main = await tree.accounts.create("main")
    subs = [await tree.accounts.create(f"sub {i}", owner_sid=main.sid) for i in range(2)]
    sinks = {a.sid: (await tree.sinks.create(a.sid, "hook", "webhook", WEBHOOK)).sid for a in [main, *subs]}
    for account_sid, sink_sid in sinks.items():
        await tree.subscribe(account_sid, sink_sid, TYPES[:1])
    before = await tree.rows()

    with pytest.raises(LimitExceeded) as refusal:  # one account under its own 1,000: the tree is full
        await tree.subscribe(subs[0].sid, sinks[subs[0].sid], TYPES[:1])
    assert_refused(refusal, LimitExceeded, 91003)
    assert "subscriptions across the account and its subaccounts (3)" in refusal.value.message
    with pytest.raises(LimitExceeded) as refusal:
        await tree.sinks.create(main.sid, "one too many", "webhook", WEBHOOK)
    assert_refused(refusal, LimitExceeded, 91003)
    assert await tree.rows() == before  # nothing stored

    # Another tree has its own room; removing one frees one.
    other = await tree.accounts.create("other")
    other_sink = await tree.sinks.create(other.sid, "hook", "webhook", WEBHOOK)
    await tree.subscribe(other.sid, other_sink.sid, TYPES[:1])
    first = (await tree.subscriptions.find(main.sid, "", 10, ""))[0].items[0]
    await tree.subscriptions.delete(main.sid, first.sid)
    await tree.subscribe(subs[1].sid, sinks[subs[1].sid], TYPES[:1])


async def test_a_subscription_s_shape_is_limited_and_a_refusal_stores_nothing(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    tree = Tree(control_sessions, TreeLimits(types_per_subscription=2, filter_chars=20))
    main = await tree.accounts.create("main")
    sink = await tree.sinks.create(main.sid, "hook", "webhook", WEBHOOK)
    sid = await tree.subscribe(main.sid, sink.sid, TYPES[:2], "errorCode == 1")
    before = await tree.rows()

    with pytest.raises(InvalidArgument) as refusal:
        await tree.subscribe(main.sid, sink.sid, TYPES[:3])
    assert_refused(refusal, InvalidArgument, 91101)
    with pytest.raises(InvalidArgument) as refusal:
        await tree.subscribe(main.sid, sink.sid, TYPES[:1], "errorCode == 12345678")
    assert_refused(refusal, InvalidArgument, 91101)
    with pytest.raises(InvalidArgument) as refusal:
        await tree.subscriptions.update(main.sid, sid, "d", "errorCode == 12345678")
    assert_refused(refusal, InvalidArgument, 91101)
    with pytest.raises(InvalidArgument) as refusal:
        await tree.subscriptions.add_event(main.sid, sid, TYPES[2], 0)
    assert_refused(refusal, InvalidArgument, 91101)
    assert await tree.rows() == before
    row, events = await tree.subscriptions.get(main.sid, sid)
    assert (row.filter, [e.type for e in events]) == ("errorCode == 1", TYPES[:2])


async def test_routing_bytes_across_a_tree_are_limited(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    one = limits.routing_bytes(TYPES[:1], None, None)
    tree = Tree(control_sessions, TreeLimits(routing_bytes=2 * one + 10))
    main = await tree.accounts.create("main")
    sub = await tree.accounts.create("sub", owner_sid=main.sid)
    sink = await tree.sinks.create(sub.sid, "hook", "webhook", WEBHOOK)
    first = await tree.subscribe(
        main.sid, (await tree.sinks.create(main.sid, "h", "webhook", WEBHOOK)).sid, TYPES[:1]
    )
    second = await tree.subscribe(sub.sid, sink.sid, TYPES[:1])
    before = await tree.rows()
    assert (await tree.usage(main.sid)).routing_bytes == 2 * one

    with pytest.raises(LimitExceeded) as refusal:
        await tree.subscribe(sub.sid, sink.sid, TYPES[:1])
    assert_refused(refusal, LimitExceeded, 91003)
    assert "bytes of routing state" in refusal.value.message
    with pytest.raises(LimitExceeded):
        await tree.subscriptions.add_event(sub.sid, second, TYPES[1], 0)
    with pytest.raises(LimitExceeded):
        await tree.subscriptions.update(main.sid, first, "d", "errorCode == 12345")  # 16 bytes more
    assert await tree.rows() == before
    assert (await tree.subscriptions.get(main.sid, first))[0].filter is None
    await tree.subscriptions.update(main.sid, first, "d", "to == 'a'")  # 9 bytes: within
    await tree.subscriptions.update(main.sid, first, "d", "to == 'b'")  # the same size: within
    await tree.subscriptions.update(main.sid, first, "renamed")  # changes no routing byte


@pytest.mark.parametrize("kind", ["subscriptions", "sinks", "subaccounts"])
async def test_concurrent_creates_at_a_limit_never_both_pass(
    control_sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    tree = Tree(control_sessions, TreeLimits(subaccounts=3, sinks=3, subscriptions=3))
    main = await tree.accounts.create("main")
    subs = [await tree.accounts.create(f"sub {i}", owner_sid=main.sid) for i in range(2)]
    sink = await tree.sinks.create(subs[0].sid, "hook", "webhook", WEBHOOK)
    if kind == "subscriptions":
        await tree.subscribe(subs[0].sid, sink.sid, TYPES[:1])
        await tree.subscribe(subs[0].sid, sink.sid, TYPES[1:2])
        sinks = {
            a.sid: (await tree.sinks.create(a.sid, "h", "webhook", WEBHOOK)).sid for a in [main, subs[1]]
        }

        async def create(i: int) -> object:
            account = [main.sid, subs[1].sid][i % 2]
            return await tree.subscribe(account, sinks[account], TYPES[:1])

    elif kind == "sinks":
        await tree.sinks.create(subs[0].sid, "hook", "webhook", WEBHOOK)

        async def create(i: int) -> object:
            return await tree.sinks.create([main.sid, subs[1].sid][i % 2], "h", "webhook", WEBHOOK)

    else:

        async def create(i: int) -> object:
            return await tree.accounts.create(f"late {i}", owner_sid=main.sid)

    # One place left, raced for by six.
    results = await asyncio.gather(*(create(i) for i in range(6)), return_exceptions=True)
    passed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert (len(passed), len(refused)) == (1, 5), results
    usage = await tree.usage(main.sid)
    assert (usage.subaccounts, usage.sinks, usage.subscriptions) == {
        "subscriptions": (2, 3, 3),
        "sinks": (2, 3, 0),
        "subaccounts": (3, 1, 0),
    }[kind]


async def test_a_tree_at_every_limit_costs_no_more_routing_state_than_its_budget(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    longest = max(TYPES, key=len)
    names = [longest + "." + str(i) for i in range(3)]
    widest = limits.routing_bytes(names, "f" * 40, "to")
    small = TreeLimits(subaccounts=2, sinks=3, subscriptions=6, types_per_subscription=3, filter_chars=40)
    small = TreeLimits(**{**small.__dict__, "routing_bytes": 6 * widest})
    tree = Tree(control_sessions, small)
    main = await tree.accounts.create("main")
    subs = [await tree.accounts.create(f"sub {i}", owner_sid=main.sid) for i in range(2)]
    members = [main, *subs]
    sinks = [(await tree.sinks.create(a.sid, "hook", "webhook", WEBHOOK)).sid for a in members]
    for i in range(6):
        account = members[i % 3]
        await tree.subscriptions.create(
            account.sid,
            "d",
            sinks[i % 3],
            [Selector(n, 0) for n in names],
            'to == "' + "f" * 32 + '"',
            ordering_key="to",
        )
    # Every limit reached: each next one is refused.
    with pytest.raises(LimitExceeded):
        await tree.accounts.create("one too many", owner_sid=main.sid)
    with pytest.raises(LimitExceeded):
        await tree.sinks.create(main.sid, "one too many", "webhook", WEBHOOK)
    with pytest.raises(LimitExceeded):
        await tree.subscribe(main.sid, sinks[0], names[:1])

    usage = await tree.usage(main.sid)
    routed = await tree.routed(main.sid)
    assert (usage.subaccounts, usage.sinks, usage.subscriptions) == (2, 3, 6)
    # The database's sum is the pure estimate's, subscription by subscription.
    assert usage.routing_bytes == sum(
        limits.routing_bytes([t.type for t in r.types], r.filter, r.ordering_key) for r in routed
    )
    serialized = serialized_size(routed)
    assert serialized <= usage.routing_bytes <= small.routing_bytes
    print(
        f"at every limit: {serialized} B serialized, {usage.routing_bytes} B estimated, "
        f"{small.routing_bytes} B budget"
    )


async def test_a_tree_filled_until_its_routing_budget_refuses_stays_under_it(
    control_sessions: async_sessionmaker[AsyncSession],
) -> None:
    budget = 4096
    tree = Tree(control_sessions, TreeLimits(routing_bytes=budget, filter_chars=200))
    main = await tree.accounts.create("main")
    sink = await tree.sinks.create(main.sid, "hook", "webhook", WEBHOOK)
    created = 0
    with pytest.raises(LimitExceeded):
        while True:
            await tree.subscribe(main.sid, sink.sid, TYPES, "to == '" + "x" * 150 + "'")
            created += 1
    routed = await tree.routed(main.sid)
    serialized = serialized_size(routed)
    assert created == len(routed) > 0
    assert serialized <= (await tree.usage(main.sid)).routing_bytes <= budget
