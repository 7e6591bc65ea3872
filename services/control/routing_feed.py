"""The routing feed: whole snapshots of what routing and delivery need, sent on change.

Snapshots are whole rather than incremental: at this project's scale (hundreds of accounts,
≤100 sinks and subscriptions each) a snapshot is small and a watcher can never miss a
change. The revision row tells when to build one — once per revision, shared by every
watcher (with or without the accounts' auth tokens: only delivery workers sign).

Accounts' statuses shape it: a closed account is left out; a suspended one is in, marked,
with its subscriptions left out — its events are accepted and routed nowhere, its sinks
receive nothing new, and events accepted before the suspension are still delivered (signed).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstreams.v1 import control_pb2
from runtime.change_signal import ChangeSignal
from runtime.token_cipher import TokenCipher
from services.control import revision
from services.control.accounts import ACTIVE, SUSPENDED
from services.control.models import AccountRow, SinkRow, SubscribedEventRow, SubscriptionRow
from services.control.sinks import KinesisTrust


class RoutingFeed:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signal: ChangeSignal,
        poll_seconds: float,
        cipher: TokenCipher | None = None,
        kinesis: KinesisTrust | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher or TokenCipher("")
        self._kinesis = kinesis or KinesisTrust()
        self._signal = signal
        self._poll = poll_seconds
        self._lock = asyncio.Lock()
        self._built: dict[bool, control_pb2.RoutingSnapshot] = {}

    async def snapshot(self, with_auth_tokens: bool = True) -> control_pb2.RoutingSnapshot:
        """The snapshot of the current revision, built once for all watchers."""
        async with self._lock:
            async with self._sessions() as session:
                latest = await revision.current(session)
            built = self._built.get(with_auth_tokens)
            if built is None or built.revision != latest:
                full = await self._build()
                bare = control_pb2.RoutingSnapshot()
                bare.CopyFrom(full)
                for account in bare.accounts:
                    account.auth_token = ""
                self._built = {True: full, False: bare}
            return self._built[with_auth_tokens]

    async def _build(self) -> control_pb2.RoutingSnapshot:
        async with self._sessions.begin() as session:
            rev = await revision.current(session)
            accounts = (await session.scalars(select(AccountRow))).all()
            sinks = (await session.scalars(select(SinkRow))).all()
            subscriptions = (await session.scalars(select(SubscriptionRow))).all()
            events = (await session.scalars(select(SubscribedEventRow))).all()
        held = {a.sid for a in accounts if a.status != ACTIVE}  # their subscriptions route nothing
        by_subscription: dict[str, list[control_pb2.TypeSelector]] = defaultdict(list)
        for event in events:
            by_subscription[event.subscription_sid].append(
                control_pb2.TypeSelector(type=event.type, schema_version=event.schema_version)
            )
        return control_pb2.RoutingSnapshot(
            revision=rev,
            accounts=[
                control_pb2.RoutedAccount(
                    sid=a.sid,
                    auth_token=self._cipher.reveal(a.auth_token),
                    owner_account_sid=a.owner_account_sid or "",
                    suspended=a.status == SUSPENDED,
                )
                for a in accounts
                if a.status in (ACTIVE, SUSPENDED)
            ],
            sinks=[
                control_pb2.RoutedSink(
                    sid=s.sid,
                    account_sid=s.account_sid,
                    sink_type=s.sink_type,
                    configuration_json=self._kinesis.routed(s.sink_type, s.account_sid, s.configuration),
                    status=s.status,
                )
                for s in sinks
            ],
            subscriptions=[
                control_pb2.RoutedSubscription(
                    sid=s.sid,
                    account_sid=s.account_sid,
                    sink_sid=s.sink_sid,
                    types=by_subscription.get(s.sid, []),
                    filter=s.filter or "",
                    receive_events_from_subaccounts=s.receive_events_from_subaccounts,
                    ordering_key=s.ordering_key or "",
                )
                for s in subscriptions
                if s.account_sid not in held
            ],
        )

    async def watch(
        self, known_revision: int, with_auth_tokens: bool = True
    ) -> AsyncIterator[control_pb2.RoutingSnapshot]:
        sent = known_revision
        while True:
            async with self._sessions() as session:
                latest = await revision.current(session)
            if latest != sent:
                snapshot = await self.snapshot(with_auth_tokens)
                sent = snapshot.revision
                yield snapshot
            await self._signal.wait(self._poll)
