"""Following a server's revision feed (a server stream that sends a message per new revision):
keep the newest revision, reconnect forever with backoff, hand every message to its owner.
Control's routing feed (runtime/routing.py) and catalog's WatchCatalog both run on it.

A message may bring no revision yet (`revision_of` is 0: a page of a cold start, or a part of
a large change): its owner applies it, and the watcher still holds — and on reconnect asks
from — the revision it held before."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable
from typing import Generic, TypeVar

import grpc

log = logging.getLogger(__name__)

M = TypeVar("M")


class FeedWatcher(Generic[M]):
    def __init__(
        self,
        name: str,
        open_stream: Callable[[int], AsyncIterable[M]],
        on_message: Callable[[M], None],
        revision_of: Callable[[M], int],
    ) -> None:
        """`open_stream(known_revision)` starts the server stream; `on_message` sees each
        message before the watcher counts its revision as known."""
        self._name = name
        self._open = open_stream
        self._on_message = on_message
        self._revision_of = revision_of
        self._revision = 0
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._revision

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_for(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Whether `condition` holds, waiting for new messages until `deadline` (loop time)
        if it does not yet: something created a moment ago may not have reached this service."""
        loop = asyncio.get_running_loop()
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return condition()
        return True

    async def run(self) -> None:
        delay = 0.1
        while True:
            try:
                async for message in self._open(self._revision):
                    self._on_message(message)
                    revision = self._revision_of(message)
                    if not revision:
                        continue
                    self._revision = revision
                    self._ready.set()
                    self._changed.set()
                    self._changed = asyncio.Event()
                    delay = 0.1
            except grpc.aio.AioRpcError as exc:
                log.warning("%s: %s; retrying in %.1fs", self._name, exc.code().name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
