"""The routing revision: bumped in the same transaction as every change the router or the
delivery workers must see, so a watcher that reads it knows when to send a new snapshot."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.control.models import RevisionRow


async def bump(session: AsyncSession) -> None:
    await session.execute(
        update(RevisionRow).where(RevisionRow.id == 1).values(revision=RevisionRow.revision + 1)
    )


async def current(session: AsyncSession) -> int:
    return int(await session.scalar(select(RevisionRow.revision).where(RevisionRow.id == 1)) or 0)


class ChangeSignal:
    """Wakes this replica's watchers at once after a local change (others notice by polling)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass
