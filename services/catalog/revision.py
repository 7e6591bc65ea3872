"""The catalog revision: bumped in the same transaction as every registry change (and by a
seed that changed something), so WatchCatalog can tell routers when to forget what they
cached."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.change_signal import ChangeSignal
from services.catalog.models import RevisionRow


async def bump(session: AsyncSession) -> None:
    await session.execute(
        update(RevisionRow).where(RevisionRow.id == 1).values(revision=RevisionRow.revision + 1)
    )


async def current(session: AsyncSession) -> int:
    return int(await session.scalar(select(RevisionRow.revision).where(RevisionRow.id == 1)) or 0)


async def watch(
    sessions: async_sessionmaker[AsyncSession], signal: ChangeSignal, poll_seconds: float, known: int
) -> AsyncIterator[int]:
    """Each new revision: at once when it differs from `known`, then on every change — this
    replica's at once (the signal), another replica's within `poll_seconds`."""
    sent = known
    while True:
        async with sessions() as session:
            latest = await current(session)
        if latest != sent:
            sent = latest
            yield latest
        await signal.wait(poll_seconds)
