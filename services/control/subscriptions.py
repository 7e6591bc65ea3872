"""Subscriptions and their subscribed events (type + pinned schema version)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import ordering, sids
from runtime.errors import FailedPrecondition, InvalidArgument, LimitExceeded, NotFound
from runtime.paging import Page, fetch_page
from runtime.text import control_character
from runtime.times import utcnow
from services.control import limits, revision, trees, validation
from services.control.models import SinkRow, SubscribedEventRow, SubscriptionRow
from services.control.ports import TypeResolver

# Statuses a sink may have for a new subscription to deliver to it.
SUBSCRIBABLE_SINK_STATUSES = ("active",)


@dataclass(frozen=True)
class Selector:
    type: str
    schema_version: int


def event_not_found(sid: str, type_name: str) -> NotFound:
    return NotFound(
        f"The requested resource /Subscriptions/{sid}/SubscribedEvents/{type_name} was not found",
        twilio_code=20404,
    )


def not_found(sid: str) -> NotFound:
    return NotFound(f"The requested resource /Subscriptions/{sid} was not found", twilio_code=20404)


class SubscriptionStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_per_account: int,
        types: TypeResolver,
        *,
        tree: limits.TreeLimits | None = None,
    ) -> None:
        self._sessions = sessions
        self._tree = tree or limits.TreeLimits()
        self._max = max_per_account
        self._types = types

    async def _pin_all(self, selectors: Sequence[Selector]) -> list[Selector]:
        if not selectors:
            raise InvalidArgument("Event type list is empty", twilio_code=91103)
        names = [s.type for s in selectors]
        if len(set(names)) != len(names):
            raise InvalidArgument(
                "Subscription could not be created: duplicated event types", twilio_code=91101
            )
        pinned = []
        for selector in selectors:
            if not selector.type.strip():
                raise InvalidArgument("Event type is empty", twilio_code=91104)
            validation.plain(selector.type, "Event type", 91104)
            if selector.schema_version < 0:
                raise InvalidArgument("schema_version must be positive", twilio_code=91104)
            pinned.append(
                Selector(selector.type, await self._types.pin(selector.type, selector.schema_version))
            )
        return pinned

    async def _ordering_key(self, text: str, pinned: Sequence[Selector]) -> str | None:
        """A subscription's ordering key, checked against every subscribed type's schema at
        its pinned version; None for unordered."""
        if not text.strip():
            return None
        try:
            path = ordering.parse_path(text.strip())
        except ordering.OrderingKeyError as exc:
            raise InvalidArgument(f"Invalid OrderingKey: {exc}", twilio_code=20001) from exc
        for selector in pinned:
            document = await self._types.document(selector.type, selector.schema_version)
            if not ordering.path_in_schema(document, path):
                raise InvalidArgument(
                    f"Invalid OrderingKey: {text.strip()!r} is not a string, number or boolean field "
                    f"of {selector.type} (schema version {selector.schema_version})",
                    twilio_code=20001,
                )
        return ".".join(path)

    async def create(
        self,
        account_sid: str,
        description: str,
        sink_sid: str,
        selectors: Sequence[Selector],
        filter_text: str = "",
        from_subaccounts: bool = False,
        ordering_key: str = "",
    ) -> tuple[SubscriptionRow, list[SubscribedEventRow]]:
        text = validation.description(description, 91101, "Subscription")
        checked_filter = self._filter(filter_text)
        refusal = limits.types_refusal(self._tree, len(selectors))
        if refusal is not None:
            raise refusal
        if not sids.is_sid(sink_sid, sids.SINK):
            raise InvalidArgument(f"Sink could not be found: {sink_sid}", twilio_code=91001)
        pinned = await self._pin_all(selectors)
        key = await self._ordering_key(ordering_key, pinned)
        now = utcnow()
        row = SubscriptionRow(
            sid=sids.new(sids.SUBSCRIPTION),
            account_sid=account_sid,
            description=text,
            sink_sid=sink_sid,
            filter=checked_filter,
            receive_events_from_subaccounts=from_subaccounts,
            ordering_key=key,
            date_created=now,
            date_updated=now,
        )
        async with self._sessions.begin() as session:
            root = await trees.lock(session, account_sid)
            sink = await session.scalar(
                select(SinkRow).where(SinkRow.sid == sink_sid, SinkRow.account_sid == account_sid)
            )
            if sink is None:
                raise InvalidArgument(f"Sink could not be found: {sink_sid}", twilio_code=91001)
            if sink.status not in SUBSCRIBABLE_SINK_STATUSES:
                raise FailedPrecondition(
                    "Subscription could not be created: Sink is not in an active state",
                    twilio_code=91100,
                )
            count = await session.scalar(
                select(func.count())
                .select_from(SubscriptionRow)
                .where(SubscriptionRow.account_sid == account_sid)
            )
            if (count or 0) >= self._max:
                raise LimitExceeded(
                    f"Account reached the maximum number of subscriptions ({self._max})",
                    twilio_code=91003,
                )
            await self._check_tree(
                session,
                root,
                subscriptions=1,
                routing_bytes=limits.routing_bytes([p.type for p in pinned], checked_filter, key),
            )
            session.add(row)
            await session.flush()
            events = [
                SubscribedEventRow(subscription_sid=row.sid, type=p.type, schema_version=p.schema_version)
                for p in pinned
            ]
            session.add_all(events)
            await revision.bump(session, account_sid)
        return row, events

    async def get(self, account_sid: str, sid: str) -> tuple[SubscriptionRow, list[SubscribedEventRow]]:
        async with self._sessions() as session:
            row = await self._owned(session, account_sid, sid)
            return row, await self._events(session, [row.sid])

    async def find(
        self, account_sid: str, sink_sid: str, page_size: int, token: str
    ) -> tuple[Page[SubscriptionRow], list[SubscribedEventRow]]:
        statement = select(SubscriptionRow).where(SubscriptionRow.account_sid == account_sid)
        if sink_sid:
            validation.plain(sink_sid, "SinkSid")
            statement = statement.where(SubscriptionRow.sink_sid == sink_sid)
        async with self._sessions() as session:
            page = await fetch_page(session, statement, SubscriptionRow.id, lambda r: r.id, page_size, token)
            return page, await self._events(session, [r.sid for r in page.items])

    async def update(
        self,
        account_sid: str,
        sid: str,
        description: str,
        filter_text: str | None = None,
        ordering_key: str | None = None,
    ) -> tuple[SubscriptionRow, list[SubscribedEventRow]]:
        text = validation.description(description, 91101, "Subscription")
        checked_filter = self._filter(filter_text) if filter_text is not None else None
        key = None
        if ordering_key is not None:
            async with self._sessions() as session:
                await self._owned(session, account_sid, sid)
                current = await self._events(session, [sid])
            key = await self._ordering_key(
                ordering_key, [Selector(e.type, e.schema_version) for e in current]
            )
        async with self._sessions.begin() as session:
            root = await trees.lock(session, account_sid)
            row = await self._owned(session, account_sid, sid)
            new_filter = checked_filter if filter_text is not None else row.filter
            new_key = key if ordering_key is not None else row.ordering_key
            grown = len((new_filter or "").encode()) + len((new_key or "").encode())
            grown -= len((row.filter or "").encode()) + len((row.ordering_key or "").encode())
            if grown > 0:
                await self._check_tree(session, root, routing_bytes=grown)
            row.description = text
            if filter_text is not None:
                row.filter = checked_filter
                await revision.bump(session, account_sid)
            if ordering_key is not None:
                row.ordering_key = key
                await revision.bump(session, account_sid)
            row.date_updated = utcnow()
            return row, await self._events(session, [row.sid])

    async def delete(self, account_sid: str, sid: str) -> None:
        async with self._sessions.begin() as session:
            row = await self._owned(session, account_sid, sid)
            for event in await self._events(session, [row.sid]):
                await session.delete(event)
            await session.delete(row)
            await revision.bump(session, account_sid)

    async def add_event(self, account_sid: str, sid: str, type_name: str, version: int) -> SubscribedEventRow:
        pinned = (await self._pin_all([Selector(type_name, version)]))[0]
        await self._keep_ordering(account_sid, sid, pinned)
        async with self._sessions.begin() as session:
            root = await trees.lock(session, account_sid)
            await self._owned(session, account_sid, sid)
            if await self._event(session, sid, type_name) is not None:
                raise InvalidArgument(
                    f"Subscription {sid} already subscribes to {type_name}", twilio_code=91101
                )
            subscribed = await session.scalar(
                select(func.count())
                .select_from(SubscribedEventRow)
                .where(SubscribedEventRow.subscription_sid == sid)
            )
            refusal = limits.types_refusal(self._tree, (subscribed or 0) + 1)
            if refusal is not None:
                raise refusal
            await self._check_tree(
                session,
                root,
                routing_bytes=limits.routing_bytes([pinned.type], None, None) - limits.SUBSCRIPTION_OVERHEAD,
            )
            row = SubscribedEventRow(
                subscription_sid=sid, type=pinned.type, schema_version=pinned.schema_version
            )
            session.add(row)
            await revision.bump(session, account_sid)
        return row

    async def get_event(self, account_sid: str, sid: str, type_name: str) -> SubscribedEventRow:
        async with self._sessions() as session:
            await self._owned(session, account_sid, sid)
            row = await self._event(session, sid, type_name)
        if row is None:
            raise event_not_found(sid, type_name)
        return row

    async def find_events(
        self, account_sid: str, sid: str, page_size: int, token: str
    ) -> Page[SubscribedEventRow]:
        async with self._sessions() as session:
            await self._owned(session, account_sid, sid)
            statement = select(SubscribedEventRow).where(SubscribedEventRow.subscription_sid == sid)
            return await fetch_page(
                session, statement, SubscribedEventRow.id, lambda r: r.id, page_size, token
            )

    async def update_event(
        self, account_sid: str, sid: str, type_name: str, version: int
    ) -> SubscribedEventRow:
        async with self._sessions() as session:
            await self._owned(session, account_sid, sid)
            if await self._event(session, sid, type_name) is None:
                raise event_not_found(sid, type_name)
        pinned = (await self._pin_all([Selector(type_name, version)]))[0]
        await self._keep_ordering(account_sid, sid, pinned)
        async with self._sessions.begin() as session:
            row = await self._event(session, sid, type_name)
            if row is None:
                raise event_not_found(sid, type_name)
            row.schema_version = pinned.schema_version
            await revision.bump(session, account_sid)
        return row

    async def remove_event(self, account_sid: str, sid: str, type_name: str) -> None:
        async with self._sessions.begin() as session:
            await self._owned(session, account_sid, sid)
            row = await self._event(session, sid, type_name)
            if row is None:
                raise event_not_found(sid, type_name)
            remaining = await session.scalar(
                select(func.count())
                .select_from(SubscribedEventRow)
                .where(SubscribedEventRow.subscription_sid == sid)
            )
            if (remaining or 0) <= 1:
                raise InvalidArgument(
                    "A subscription keeps at least one event type; delete the subscription instead",
                    twilio_code=91103,
                )
            await session.delete(row)
            await revision.bump(session, account_sid)

    def _filter(self, text: str) -> str | None:
        # The length first: a filter past it is refused as too long whatever it holds.
        refusal = limits.filter_refusal(self._tree, text.strip())
        if refusal is not None:
            raise refusal
        return validation.event_filter(text)

    async def _check_tree(
        self, session: AsyncSession, root: str, *, subscriptions: int = 0, routing_bytes: int = 0
    ) -> None:
        """Refuse a change that would take the (locked) tree past one of its limits."""
        before = await trees.usage(session, root)
        after = replace(
            before,
            subscriptions=before.subscriptions + subscriptions,
            routing_bytes=before.routing_bytes + routing_bytes,
        )
        refusal = limits.tree_refusal(self._tree, before, after)
        if refusal is not None:
            raise refusal

    async def _keep_ordering(self, account_sid: str, sid: str, pinned: Selector) -> None:
        """A type added to (or re-pinned in) an ordered subscription must have its key."""
        async with self._sessions() as session:
            row = await self._owned(session, account_sid, sid)
        if row.ordering_key:
            await self._ordering_key(row.ordering_key, [pinned])

    async def _event(self, session: AsyncSession, sid: str, type_name: str) -> SubscribedEventRow | None:
        if control_character(type_name) is not None:  # no type has one; PostgreSQL cannot even look
            return None
        return await session.scalar(
            select(SubscribedEventRow).where(
                SubscribedEventRow.subscription_sid == sid, SubscribedEventRow.type == type_name
            )
        )

    async def _owned(self, session: AsyncSession, account_sid: str, sid: str) -> SubscriptionRow:
        validation.sid_or_not_found(sid, sids.SUBSCRIPTION, "/Subscriptions")
        row = await session.scalar(
            select(SubscriptionRow).where(
                SubscriptionRow.sid == sid, SubscriptionRow.account_sid == account_sid
            )
        )
        if row is None:
            raise not_found(sid)
        return row

    async def _events(self, session: AsyncSession, subscription_sids: list[str]) -> list[SubscribedEventRow]:
        if not subscription_sids:
            return []
        result = await session.scalars(
            select(SubscribedEventRow)
            .where(SubscribedEventRow.subscription_sid.in_(subscription_sids))
            .order_by(SubscribedEventRow.id)
        )
        return list(result.all())

    async def all_with_events(self) -> tuple[list[SubscriptionRow], list[SubscribedEventRow]]:
        async with self._sessions() as session:
            rows = list((await session.scalars(select(SubscriptionRow))).all())
            events = list((await session.scalars(select(SubscribedEventRow))).all())
            return rows, events
