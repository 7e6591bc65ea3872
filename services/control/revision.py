"""The routing revision: bumped in the same transaction as every change the router or the
delivery workers must see, so a watcher that reads it knows when to send a new snapshot."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.control.models import RevisionRow


async def bump(session: AsyncSession) -> None:
    await session.execute(
        update(RevisionRow).where(RevisionRow.id == 1).values(revision=RevisionRow.revision + 1)
    )


async def current(session: AsyncSession) -> int:
    return int(await session.scalar(select(RevisionRow.revision).where(RevisionRow.id == 1)) or 0)
