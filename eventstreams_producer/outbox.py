"""The transactional outbox: the application writes its events in its OWN transaction, beside
the rows they describe, so both commit or neither does; the relay (relay.py) publishes what
was committed. Nothing here commits, flushes the session's objects or opens a transaction.

    async with sessions.begin() as session:          # the application's transaction
        session.add(order)
        await outbox.add(session, "com.acme.order.created", {...}, schema_version=1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from eventstreams_producer.events import Event, make_event
from eventstreams_producer.outbox_table import outbox


def row(event: Event, now: datetime) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "account_sid": event.account_sid,
        "type": event.type,
        "schema_version": event.schema_version,
        "source": event.source,
        "event_time": event.time,
        "data_json": event.data_json,
        "created_at": now,
        "attempts": 0,
    }


class Outbox:
    def __init__(self, account_sid: str | None = None) -> None:
        self.account_sid = account_sid  # the default account of the events added

    async def add(
        self,
        session: AsyncSession | AsyncConnection,
        event_type: str,
        data: Mapping[str, Any],
        *,
        schema_version: int,
        account_sid: str | None = None,
        source: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> Event:
        """Build the event (its id fixed now; InvalidEvent when malformed) and insert it in
        the caller's transaction. The event, with its id, is returned."""
        event = make_event(
            event_type,
            data,
            schema_version=schema_version,
            account_sid=account_sid or self.account_sid or "",
            source=source,
            time=time,
            id=id,
        )
        await self.add_events(session, [event])
        return event

    async def add_events(self, session: AsyncSession | AsyncConnection, events: Sequence[Event]) -> None:
        """Insert built events in the caller's transaction (a repeated event id fails the
        insert: the id is unique in the outbox)."""
        if events:
            now = datetime.now(UTC)
            await session.execute(insert(outbox), [row(e, now) for e in events])


async def unsent_count(connection: AsyncSession | AsyncConnection) -> int:
    found = await connection.execute(
        select(func.count()).select_from(outbox).where(outbox.c.settled_at.is_(None))
    )
    return int(found.scalar_one())


async def prune_settled(connection: AsyncSession | AsyncConnection, older_than: datetime) -> int:
    """Delete rows settled before `older_than` (in the caller's transaction); how many."""
    done = await connection.execute(
        delete(outbox).where(outbox.c.settled_at.is_not(None), outbox.c.settled_at < older_than)
    )
    return int(getattr(done, "rowcount", 0) or 0)
