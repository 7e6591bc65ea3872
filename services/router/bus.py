"""Putting routed events on JetStream, and only calling it done when JetStream says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from nats.js import JetStreamContext

from runtime import stream_codec
from runtime.jetstream import StreamSpec


@dataclass(frozen=True)
class OutMessage:
    account_sid: str
    sink_sid: str
    event_id: str
    type_name: str
    msg_id: str
    payload: bytes
    failure: str = ""  # why this event cannot be delivered to the sink (recorded, not sent)


class EventBus(Protocol):
    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        """Publish all; one entry per message: None when acknowledged, else the failure."""
        ...


class JetStreamBus:
    def __init__(self, js: JetStreamContext, spec: StreamSpec, timeout_seconds: float) -> None:
        self._js = js
        self._spec = spec
        self._timeout = timeout_seconds

    async def put(self, messages: list[OutMessage]) -> list[BaseException | None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        futures: list[asyncio.Future[Any] | BaseException] = []
        try:
            # One timer for the whole batch: sending can block when nats-py's window of
            # unacknowledged publishes is full (the broker is away).
            async with asyncio.timeout_at(deadline):
                await self._send(messages, futures)
        except TimeoutError:
            pass
        while len(futures) < len(messages):
            futures.append(TimeoutError("JetStream did not take the message in time"))
        pending = [f for f in futures if isinstance(f, asyncio.Future)]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        results: list[BaseException | None] = []
        for future in futures:
            if isinstance(future, BaseException):
                results.append(future)
            elif not future.done():
                future.cancel()
                results.append(TimeoutError("JetStream did not acknowledge in time"))
            else:
                results.append(future.exception())
        return results

    async def _send(
        self, messages: list[OutMessage], futures: list[asyncio.Future[Any] | BaseException]
    ) -> None:
        for message in messages:
            headers = stream_codec.headers(
                stream_codec.StreamEvent(message.event_id, message.type_name, message.failure),
                message.msg_id,
            )
            try:
                futures.append(
                    await self._js.publish_async(
                        self._spec.subject(message.account_sid, message.sink_sid),
                        message.payload,
                        # No stall timeout per message (a wait_for task each): see put().
                        wait_stall=None,
                        headers=headers,
                    )
                )
            except Exception as exc:
                futures.append(exc)
