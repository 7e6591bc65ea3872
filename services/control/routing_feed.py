"""The routing feed: what routing and delivery need, sent by change.

An account is the unit of change: every change bumps the routing revision and records the
revision at which its account last changed (services/control/revision.py). A watcher holding
revision R is sent the whole routing state of each account changed since R — work
proportional to the change, not to the table. A watcher starting cold gets every account in
pages read after it is told the revision they bring it to; changes made while it pages come
again as changes after, and an account's state replaces whatever was held for it, so it
converges to the revision. Many changes by one tenant between two reads are one account's
state, sent once.

Accounts' statuses shape it: a closed account is gone; a suspended one is in, marked, with its
subscriptions left out — its events are accepted and routed nowhere, its sinks receive nothing
new, and events accepted before the suspension are still delivered (signed). Auth tokens, and
webhook sinks' own signing secrets, go only to watchers that sign deliveries (delivery
workers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstreams.v1 import control_pb2
from runtime.change_signal import ChangeSignal
from runtime.token_cipher import TokenCipher
from services.control import revision
from services.control.accounts import ACTIVE, SUSPENDED
from services.control.models import (
    AccountRow,
    RevisionRow,
    RoutingChangeRow,
    SinkRow,
    SubscribedEventRow,
    SubscriptionRow,
)
from services.control.sinks import KinesisTrust, previous_expires

# Accounts per message: a cold start's page, and the most a change message carries.
PAGE_ACCOUNTS = 500


class RoutingFeed:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signal: ChangeSignal,
        poll_seconds: float,
        cipher: TokenCipher | None = None,
        kinesis: KinesisTrust | None = None,
        page_accounts: int = PAGE_ACCOUNTS,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher or TokenCipher("")
        self._kinesis = kinesis or KinesisTrust()
        self._signal = signal
        self._poll = poll_seconds
        self._page = page_accounts

    async def accounts(self, sids: Sequence[str], with_auth_tokens: bool) -> list[control_pb2.AccountRouting]:
        """The routing state of these accounts (gone: closed or unknown)."""
        return (await self.read(sids, with_auth_tokens))[1]

    async def read(
        self, sids: Sequence[str], with_auth_tokens: bool
    ) -> tuple[int, list[control_pb2.AccountRouting]]:
        """The routing state of these accounts, read in one transaction, and the revision
        read first: every change up to it is in the states (writers commit a change and its
        revision together), and perhaps some after it."""
        async with self._sessions.begin() as session:
            as_of = await revision.current(session)
            accounts = (await session.scalars(select(AccountRow).where(AccountRow.sid.in_(sids)))).all()
            sinks = (await session.scalars(select(SinkRow).where(SinkRow.account_sid.in_(sids)))).all()
            subscriptions = (
                await session.scalars(select(SubscriptionRow).where(SubscriptionRow.account_sid.in_(sids)))
            ).all()
            events = (
                await session.scalars(
                    select(SubscribedEventRow).where(
                        SubscribedEventRow.subscription_sid.in_(
                            select(SubscriptionRow.sid).where(SubscriptionRow.account_sid.in_(sids))
                        )
                    )
                )
            ).all()
        by_subscription: dict[str, list[control_pb2.TypeSelector]] = defaultdict(list)
        for event in events:
            by_subscription[event.subscription_sid].append(
                control_pb2.TypeSelector(type=event.type, schema_version=event.schema_version)
            )
        sinks_of: dict[str, list[control_pb2.RoutedSink]] = defaultdict(list)
        for sink in sinks:
            sinks_of[sink.account_sid].append(
                control_pb2.RoutedSink(
                    sid=sink.sid,
                    account_sid=sink.account_sid,
                    sink_type=sink.sink_type,
                    configuration_json=self._kinesis.routed(
                        sink.sink_type, sink.account_sid, sink.configuration
                    ),
                    status=sink.status,
                    paused=sink.paused,
                    **self._secrets(sink, with_auth_tokens),
                )
            )
        subscriptions_of: dict[str, list[control_pb2.RoutedSubscription]] = defaultdict(list)
        for s in subscriptions:
            subscriptions_of[s.account_sid].append(
                control_pb2.RoutedSubscription(
                    sid=s.sid,
                    account_sid=s.account_sid,
                    sink_sid=s.sink_sid,
                    types=by_subscription.get(s.sid, []),
                    filter=s.filter or "",
                    receive_events_from_subaccounts=s.receive_events_from_subaccounts,
                    ordering_key=s.ordering_key or "",
                )
            )
        found = {a.sid: a for a in accounts}
        routed = []
        for sid in sids:
            a = found.get(sid)
            if a is None or a.status not in (ACTIVE, SUSPENDED):
                routed.append(
                    control_pb2.AccountRouting(account=control_pb2.RoutedAccount(sid=sid), gone=True)
                )
                continue
            routed.append(
                control_pb2.AccountRouting(
                    account=control_pb2.RoutedAccount(
                        sid=a.sid,
                        auth_token=self._cipher.reveal(a.auth_token) if with_auth_tokens else "",
                        owner_account_sid=a.owner_account_sid or "",
                        suspended=a.status == SUSPENDED,
                    ),
                    sinks=sinks_of.get(sid, []),
                    # A suspended account's subscriptions route nothing.
                    subscriptions=subscriptions_of.get(sid, []) if a.status == ACTIVE else [],
                )
            )
        return as_of, routed

    def _secrets(self, sink: SinkRow, with_auth_tokens: bool) -> dict[str, Any]:
        """A webhook's signing secrets, for the watchers that sign. The one a rotation replaced
        goes with its expiry whether or not that has passed — the workers stop signing with it
        then — so that the feed's state is the database's, not the clock's."""
        if not with_auth_tokens or not sink.signing_secret:
            return {}
        secrets: dict[str, Any] = {"signing_secret": self._cipher.reveal(sink.signing_secret)}
        expires = previous_expires(sink)
        if sink.previous_signing_secret and expires is not None:
            secrets["previous_signing_secret"] = self._cipher.reveal(sink.previous_signing_secret)
            secrets["previous_signing_secret_expires"] = int(expires.timestamp())
        return secrets

    async def fetch(self, sids: Sequence[str], with_auth_tokens: bool) -> control_pb2.RoutingChanges:
        """What a watcher holding accounts on demand asks for: these accounts' states and
        their owners' (a subaccount's events may go to its owner's subscriptions)."""
        as_of, states = await self.read(sids, with_auth_tokens)
        asked = set(sids)
        owners = sorted({s.account.owner_account_sid for s in states if s.account.owner_account_sid} - asked)
        if owners:
            # Read a moment later: the older of the two revisions is true of both.
            _, more = await self.read(owners, with_auth_tokens)
            states += more
        return control_pb2.RoutingChanges(accounts=states, as_of=as_of)

    async def _ordered_accounts(self) -> list[str]:
        async with self._sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(SubscriptionRow.account_sid)
                        .where(SubscriptionRow.ordering_key.is_not(None), SubscriptionRow.ordering_key != "")
                        .distinct()
                        .order_by(SubscriptionRow.account_sid)
                    )
                ).all()
            )

    async def _latest(self) -> int:
        async with self._sessions() as session:
            return await revision.current(session)

    async def _cold(
        self, with_auth_tokens: bool, on_demand: bool = False
    ) -> AsyncIterator[control_pb2.RoutingChanges]:
        latest = await self._latest()
        if on_demand:
            # Such a watcher reads the accounts it needs when it needs them — but a worker
            # learns of an ordered sink only from its routing (its events come by a stream
            # of their own): the accounts with one are sent.
            ordered = await self._ordered_accounts()
            chunks = [ordered[i : i + self._page] for i in range(0, len(ordered), self._page)] or [[]]
            for index, chunk in enumerate(chunks):
                as_of, states = await self.read(chunk, with_auth_tokens) if chunk else (latest, [])
                last = index == len(chunks) - 1
                yield control_pb2.RoutingChanges(
                    revision=latest if last else 0, accounts=states, reset=index == 0, as_of=as_of
                )
            return
        after = ""
        first = True
        while True:
            async with self._sessions() as session:
                page = list(
                    (
                        await session.scalars(
                            select(AccountRow.sid)
                            .where(AccountRow.sid > after, AccountRow.status.in_((ACTIVE, SUSPENDED)))
                            .order_by(AccountRow.sid)
                            .limit(self._page)
                        )
                    ).all()
                )
            last = len(page) < self._page
            as_of, states = await self.read(page, with_auth_tokens) if page else (latest, [])
            yield control_pb2.RoutingChanges(
                revision=latest if last else 0, accounts=states, reset=first, as_of=as_of
            )
            if last:
                return
            first = False
            after = page[-1]

    async def snapshot(self, with_auth_tokens: bool = True) -> control_pb2.RoutingChanges:
        """Every account's routing state as one message: what a watcher holds once it has
        followed the feed (for comparisons; the feed itself sends it in pages)."""
        whole = control_pb2.RoutingChanges(reset=True)
        async for page in self._cold(with_auth_tokens):
            whole.accounts.extend(page.accounts)
            whole.revision = page.revision or whole.revision
        return whole

    async def changes(
        self, known_revision: int, with_auth_tokens: bool = True, on_demand: bool = False
    ) -> AsyncIterator[control_pb2.RoutingChanges]:
        """The messages that bring a watcher from `known_revision` to the latest one (none
        when it holds the latest): a cold start's pages, or the changed accounts."""
        latest = await self._latest()
        if known_revision == latest:
            return
        if known_revision <= 0 or known_revision > latest:
            async for page in self._cold(with_auth_tokens, on_demand):
                yield page
            return
        # One statement, so one snapshot: the change rows and the revision they bring. An
        # account changed again after `latest` was read has a newer row, and its revision
        # is the one to send (writers commit in revision order, so all before it are in).
        newest = select(RevisionRow.revision).where(RevisionRow.id == 1).scalar_subquery()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(RoutingChangeRow.account_sid, RoutingChangeRow.revision, newest.label("latest"))
                    .where(RoutingChangeRow.revision > known_revision)
                    .order_by(RoutingChangeRow.revision)
                )
            ).all()
        if not rows or rows[-1].revision != rows[-1].latest:
            # The newest bump named no account (a bump without one, or a control from before
            # change rows): what changed is unknown, so the watcher starts cold.
            async for page in self._cold(with_auth_tokens, on_demand):
                yield page
            return
        latest = rows[-1].revision
        changed = [row.account_sid for row in rows]
        for start in range(0, max(len(changed), 1), self._page):
            chunk = changed[start : start + self._page]
            done = start + self._page >= len(changed)
            as_of, states = await self.read(chunk, with_auth_tokens) if chunk else (latest, [])
            yield control_pb2.RoutingChanges(
                # Only the last chunk brings the watcher to the revision: one cut off
                # before it asks again from the revision it held.
                revision=latest if done else 0,
                accounts=states,
                as_of=as_of,
            )

    async def watch(
        self, known_revision: int, with_auth_tokens: bool = True, on_demand: bool = False
    ) -> AsyncIterator[control_pb2.RoutingChanges]:
        held = known_revision
        while True:
            async for message in self.changes(held, with_auth_tokens, on_demand):
                if message.revision:
                    held = message.revision
                yield message
            await self._signal.wait(self._poll)
