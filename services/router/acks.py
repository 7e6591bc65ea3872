"""Publishing to JetStream with our own acknowledgement futures and window.

nats-py's `publish_async` takes one of its window's slots before `nc.publish`, and when that
call raises (the reconnect buffer is full during a broker outage; an event over the server's
`max_payload`) it neither completes the future nor gives the slot back (nats-py 2.16): each
outage leaked slots until every publish stalled. Here a slot belongs to a future, and is
given back when that future is done — acknowledged, refused, cancelled by our deadline, or
failed to send — so no path keeps one.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError

from runtime import jetstream, nats_publish

NO_RESPONDERS = "503"


class MessageTooLarge(ValueError):
    """The message (payload and headers) is more than the broker takes in one message."""


class Acks:
    def __init__(self, nc: Client, window: int = 4000) -> None:
        self._nc = nc
        self._window = asyncio.Semaphore(window)
        self._futures: dict[str, asyncio.Future[None]] = {}
        self._tokens = itertools.count()
        self._prefix = ""
        # The loop, kept: asyncio.get_running_loop() is a getpid() system call per call on
        # Python 3.11 (4 % of a router, once per message).
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        """Publishes sent and not answered yet (each holds a slot of the window)."""
        return len(self._futures)

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        prefix = f"{self._nc.new_inbox()}."
        await jetstream.subscribe_direct(self._nc, f"{prefix}*", self._on_reply)
        self._prefix = prefix

    def check_size(self, payload: bytes, header_block: bytes) -> None:
        # The server counts headers and payload together against max_payload.
        size = len(payload) + len(header_block)
        limit = self._nc.max_payload
        if limit and size > limit:
            raise MessageTooLarge(f"the event is {size} bytes with its headers; the broker takes {limit}")

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> asyncio.Future[None]:
        """Send one message; the future completes when JetStream acknowledges it (or refuses
        it). Waits for a slot of the window while it is full."""
        header_block = nats_publish.encode_headers(headers)
        self.check_size(payload, header_block)
        if not self._prefix:
            await self._start()
        await self._window.acquire()
        token = str(next(self._tokens))
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._futures[token] = future

        def done(_: asyncio.Future[None]) -> None:
            self._futures.pop(token, None)
            self._window.release()

        future.add_done_callback(done)
        try:
            await nats_publish.publish(self._nc, subject, self._prefix + token, header_block, payload)
        except BaseException:
            future.cancel()  # its slot comes back
            raise
        return future

    def _on_reply(self, msg: Msg) -> None:
        future = self._futures.get(msg.subject[len(self._prefix) :])
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        try:
            answer: dict[str, Any] = orjson.loads(msg.data)
        except ValueError as exc:
            future.set_exception(exc)
            return
        if "error" not in answer:
            future.set_result(None)
            return
        try:  # nats-py raises the error class that matches the code (a full stream: 503)
            raise APIError.from_error(answer["error"])
        except APIError as refused:
            future.set_exception(refused)
