"""Wakes a replica's feed watchers at once after a local change; other replicas' changes are
noticed by polling a revision row (control's routing feed, catalog's WatchCatalog)."""

from __future__ import annotations

import asyncio


class ChangeSignal:
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
