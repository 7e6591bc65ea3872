"""Publishing to JetStream a call's messages at once, with our own acknowledgement tracking
and window.

A put's messages go out as one write (runtime/natsio/publish.py `Frames`), each with a
reply subject of its own; JetStream's answer to each lands in the put's `Pending` by its index, and the put
waits on one future for all of them — not a future, a done-callback and a semaphore slot
per message (together ~12 % of the router at full load: they were most of what it did per
message besides building it).

The window counts messages sent and not answered yet; sending waits while it is full (the
broker is away). A message leaves the window when answered, when its send failed, or when
its put gives up on it (`expire`) — no path keeps one. (nats-py's own `publish_async` leaked
its slots when `nc.publish` raised — a full reconnect buffer, an event over `max_payload` —
until every publish stalled; that is why this is ours.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from nats.aio.client import Client

from runtime.natsio import client, publish


class MessageTooLarge(ValueError):
    """The message (payload and headers) is more than the broker takes in one message."""


class _Unanswered:
    pass


UNANSWERED = _Unanswered()
Outcome = BaseException | None


class Pending:
    """One put's messages awaiting JetStream: an outcome per message (None: stored), and
    `done` once every message has one."""

    __slots__ = ("done", "left", "outcomes", "tokens")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.outcomes: list[Outcome | _Unanswered] = [UNANSWERED] * count
        self.left = count
        self.tokens: list[str] = []  # the reply subjects of its messages sent
        self.done: asyncio.Future[None] = loop.create_future()
        if count == 0:
            self.done.set_result(None)

    def answer(self, index: int, outcome: Outcome) -> None:
        if self.outcomes[index] is not UNANSWERED:
            return
        self.outcomes[index] = outcome
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)

    def results(self) -> list[Outcome]:
        return [None if isinstance(o, _Unanswered) else o for o in self.outcomes]


class Acks:
    def __init__(self, nc: Client, window: int = 4000) -> None:
        self._nc = nc
        self._window = window
        self._waiting: dict[str, tuple[Pending, int]] = {}  # reply subject → (put, index)
        self._room = asyncio.Event()
        self._tokens = itertools.count()
        self._prefix = ""
        # The loop, kept: asyncio.get_running_loop() is a getpid() system call per call on
        # Python 3.11.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        """Messages sent and not answered yet (each holds a place in the window)."""
        return len(self._waiting)

    def pending(self, count: int) -> Pending:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return Pending(self._loop, count)

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        prefix = f"{self._nc.new_inbox()}."
        await client.subscribe_raw(self._nc, f"{prefix}*", self._on_reply)
        self._prefix = prefix

    async def send(self, messages: Sequence[tuple[str, bytes, bytes]], pending: Pending) -> None:
        """Send (subject, header block, payload) messages, in order, as few writes as the
        window allows; each one's outcome lands in `pending` at its index — a refusal of
        ours (too large, the send failed) at once, JetStream's answer when it comes. Waits
        for room while the window is full: the caller bounds that wait."""
        if not self._prefix:
            await self._start()
        limit = self._nc.max_payload
        index, count = 0, len(messages)
        while index < count:
            room = self._window - len(self._waiting)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            end = min(count, index + room)
            frames = publish.Frames()
            tokens: list[str] = []
            for position in range(index, end):
                subject, header_block, payload = messages[position]
                # The server counts headers and payload together against max_payload.
                total = len(payload) + len(header_block)
                if limit and total > limit:
                    pending.answer(
                        position,
                        MessageTooLarge(
                            f"the event is {total} bytes with its headers; the broker takes {limit}"
                        ),
                    )
                    continue
                token = self._prefix + str(next(self._tokens))
                self._waiting[token] = (pending, position)
                tokens.append(token)
                frames.add(subject, token, header_block, payload)
            index = end
            if not tokens:
                continue
            pending.tokens.extend(tokens)
            try:
                await publish.send_frames(self._nc, frames)
            except Exception as exc:
                self._fail(tokens, exc)

    def _fail(self, tokens: list[str], failure: BaseException) -> None:
        for token in tokens:
            entry = self._waiting.pop(token, None)
            if entry is not None:
                entry[0].answer(entry[1], failure)
        self._room.set()

    def expire(self, pending: Pending) -> None:
        """Give up on what `pending` still waits for: sent and unanswered, or never sent."""
        for token in pending.tokens:
            entry = self._waiting.pop(token, None)
            if entry is not None:
                entry[0].answer(entry[1], TimeoutError("JetStream did not acknowledge in time"))
        for index, outcome in enumerate(pending.outcomes):
            if outcome is UNANSWERED:
                pending.answer(index, TimeoutError("JetStream did not take the message in time"))
        self._room.set()

    def _on_reply(self, subject: bytes, data: bytes, headers: bytes | None) -> None:
        entry = self._waiting.pop(subject.decode(), None)
        if entry is None:
            return
        self._room.set()
        pending, index = entry
        pending.answer(index, publish.answer(data, headers))
