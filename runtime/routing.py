"""A client of control's routing feed, for the services that route (router) and deliver
(delivery). It keeps the newest snapshot, reconnects forever, and tells each owner about
every new snapshot through a callback; the owner builds the index it needs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import grpc

from eventstreams.v1 import control_pb2, control_pb2_grpc

log = logging.getLogger(__name__)

OnSnapshot = Callable[[control_pb2.RoutingSnapshot], None]


class RoutingWatcher:
    def __init__(
        self,
        control: control_pb2_grpc.ControlAsyncStub,
        on_snapshot: OnSnapshot,
        with_auth_tokens: bool = False,
    ) -> None:
        self._control = control
        self._on_snapshot = on_snapshot
        self._with_auth_tokens = with_auth_tokens  # only a watcher that signs deliveries needs them
        self._revision = 0
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def revision(self) -> int:
        return self._revision

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def wait_for(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Whether `condition` holds, waiting for new snapshots until `deadline` (loop time)
        if it does not yet: something created a moment ago (an account, a sink) may not
        have reached this service."""
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
                stream = self._control.WatchRouting(
                    control_pb2.WatchRoutingRequest(
                        known_revision=self._revision, with_auth_tokens=self._with_auth_tokens
                    )
                )
                async for snapshot in stream:
                    self._on_snapshot(snapshot)
                    self._revision = snapshot.revision
                    self._ready.set()
                    self._changed.set()
                    self._changed = asyncio.Event()
                    delay = 0.1
            except grpc.aio.AioRpcError as exc:
                log.warning("routing feed: %s; retrying in %.1fs", exc.code().name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
