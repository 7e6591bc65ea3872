"""Account trees in the database: the lock that makes a tree's limit checks atomic, and what
a tree holds (limits.TreeUsage), counted the way limits.routing_bytes counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.control import limits
from services.control.models import AccountRow, SinkRow, SubscribedEventRow, SubscriptionRow


async def root_of(session: AsyncSession, account_sid: str) -> str:
    """The main account of `account_sid`'s tree (itself when it is one)."""
    owner = await session.scalar(select(AccountRow.owner_account_sid).where(AccountRow.sid == account_sid))
    return owner or account_sid


async def lock(session: AsyncSession, account_sid: str) -> str:
    """Lock the tree `account_sid` belongs to until the session's transaction ends, and
    return its root. Two changes to one tree then check its limits one after the other, so
    two creates at a limit cannot both pass: PostgreSQL locks the root's row; SQLite has one
    writer, taken here by a write that changes nothing, before anything is counted (a plain
    SELECT would not open the transaction, and both would count the same rows)."""
    root = await root_of(session, account_sid)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(AccountRow.id).where(AccountRow.sid == root).with_for_update())
    else:
        await session.execute(
            update(AccountRow).where(AccountRow.sid == root).values(date_updated=AccountRow.date_updated)
        )
    return root


def _octets(session: AsyncSession, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.coalesce(func.octet_length(column), 0)
    return func.coalesce(func.length(cast(column, LargeBinary)), 0)


async def usage(session: AsyncSession, root: str) -> limits.TreeUsage:
    """What the tree rooted at `root` holds now."""
    members = select(AccountRow.sid).where(or_(AccountRow.sid == root, AccountRow.owner_account_sid == root))
    subaccounts = await session.scalar(
        select(func.count()).select_from(AccountRow).where(AccountRow.owner_account_sid == root)
    )
    sinks = await session.scalar(
        select(func.count()).select_from(SinkRow).where(SinkRow.account_sid.in_(members))
    )
    subscription_row = (
        await session.execute(
            select(
                func.count(),
                func.sum(_octets(session, SubscriptionRow.filter)),
                func.sum(_octets(session, SubscriptionRow.ordering_key)),
            ).where(SubscriptionRow.account_sid.in_(members))
        )
    ).one()
    event_row = (
        await session.execute(
            select(func.count(), func.sum(_octets(session, SubscribedEventRow.type)))
            .join(SubscriptionRow, SubscriptionRow.sid == SubscribedEventRow.subscription_sid)
            .where(SubscriptionRow.account_sid.in_(members))
        )
    ).one()
    subscriptions, filters, keys = (int(v or 0) for v in subscription_row)
    events, names = (int(v or 0) for v in event_row)
    return limits.TreeUsage(
        subaccounts=int(subaccounts or 0),
        sinks=int(sinks or 0),
        subscriptions=subscriptions,
        routing_bytes=subscriptions * limits.SUBSCRIPTION_OVERHEAD
        + filters
        + keys
        + events * limits.TYPE_OVERHEAD
        + names,
    )
