"""A continuous pull from the shared durable consumer.

nats-py's `fetch(n)` waits, once a first message has come, until n have come or the fetch
times out: at a modest rate that holds events back for up to the whole timeout. Instead we
keep pull requests outstanding for as many messages as the worker has room for, so
JetStream pushes each message the moment it is stored, and top the requests up as room
frees (the pattern of nats.go's `Consume`). Requests expire; JetStream says so and the
credit is dropped, and a request whose expiry notice was lost (a reconnect) is
forgotten a little after it must have expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from runtime.natsio import client, pull
from runtime.natsio.pull import PullStatus

log = logging.getLogger(__name__)


@dataclass
class PullRequest:
    remaining: int
    forget_at: float


class Puller:
    def __init__(
        self,
        nc: Client,
        stream: str,
        consumer: str,
        on_message: Callable[[Msg], None],
        room: Callable[[], int],
        expires_seconds: float = 5.0,
        min_request: int = 32,
        wake: asyncio.Event | None = None,
    ) -> None:
        """`wake`: set when room frees (the room rings it), or when the puller should look again."""
        self._nc = nc
        self._subject = pull.next_subject(stream, consumer)
        self._on_message = on_message
        self._room = room
        self._expires = expires_seconds
        self._min_request = min_request
        self._requests: deque[PullRequest] = deque()
        self._wake = wake or asyncio.Event()
        self._stopping = False
        self._subscription: Subscription | None = None
        self._inbox = ""
        self._handing_back: set[asyncio.Task[None]] = set()

    @property
    def outstanding(self) -> int:
        return sum(r.remaining for r in self._requests)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._subscription = await client.subscribe_direct(self._nc, self._inbox, self._receive)
        while not self._stopping:
            self._forget_expired(time.monotonic())
            room = self._room()
            want = room - self.outstanding
            if want > 0 and want >= min(self._min_request, room):
                await self._request(want)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            except TimeoutError:
                pass

    async def _request(self, batch: int) -> None:
        try:
            await pull.request(self._nc, self._subject, self._inbox, pull.request_body(batch, self._expires))
        except Exception as exc:  # disconnected: ask again when reconnected
            log.warning("pull request failed: %s", exc)
            await asyncio.sleep(0.5)
            return
        self._requests.append(PullRequest(batch, time.monotonic() + self._expires + 1.0))

    def _forget_expired(self, now: float) -> None:
        while self._requests and self._requests[0].forget_at < now:
            self._requests.popleft()

    def _receive(self, msg: Msg) -> None:
        status = pull.status_of(msg)
        if status is not None:
            self._on_status(status, msg)
            return
        if self._requests:
            oldest = self._requests[0]
            oldest.remaining -= 1
            if oldest.remaining <= 0:
                self._requests.popleft()
        if self._stopping:
            # Arrived while draining: straight back for another worker.
            handing_back = asyncio.create_task(msg.nak())
            self._handing_back.add(handing_back)
            handing_back.add_done_callback(self._handing_back.discard)
            return
        self._on_message(msg)

    def _on_status(self, status: PullStatus, msg: Msg) -> None:
        if status is PullStatus.HEARTBEAT:
            return
        if status is PullStatus.EXPIRED and self._requests:
            # JetStream serves requests in order: the one expired is the oldest.
            self._requests.popleft()
        elif status is PullStatus.RESET:
            # Leadership change, consumer deleted, too many waiting requests: start afresh.
            log.info("pull requests reset: %s", pull.description(msg))
            self._requests.clear()
        self._wake.set()

    async def stop(self) -> None:
        """Ask for nothing more; what still arrives is handed back."""
        self._stopping = True
        self._wake.set()
        await asyncio.sleep(0.1)
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:  # closing anyway
                pass
