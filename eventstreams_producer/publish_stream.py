"""Publish calls on the router's PublishStream: one long-lived stream carries every call, so a
producer sending an event or a few at a time pays for a message on an open stream rather than
for a gRPC call (about a millisecond of the router's CPU each).

The router answers a stream's requests in the order they were sent, so the answers are matched
to the requests by position: the requests not answered yet wait in a queue, in the order
written. When the stream breaks, what they asked is unknown — stored or not — and publishing
again is safe (JetStream deduplicates on the event id), so they are written again, in order,
on a fresh stream at once; a request that has been sent twice already fails with UNAVAILABLE
instead, for the producer's retry policy (its backoff) to take over. A router without the
method (UNIMPLEMENTED) makes every waiting request fail with StreamUnsupported: the transport
then publishes through unary Publish."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import grpc

from eventstreams.v1 import router_pb2
from eventstreams_producer.codes import Code
from eventstreams_producer.errors import RequestFailed

Call = grpc.aio.StreamStreamCall[router_pb2.PublishRequest, router_pb2.PublishResponse]

# A request is written on at most this many streams before a break fails it to the caller.
SENDS = 2
# A broken stream that answered this: the request itself is refused, sending it again on a
# fresh stream would be refused again.
REFUSED = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class Next(Enum):
    """What becomes of a request its stream left unanswered."""

    RESEND = "written again, at once, on a fresh stream"
    GIVE_UP = "UNAVAILABLE to the caller, whose retry policy waits before it publishes again"
    REFUSED = "the stream's status to the caller: sending it again would be refused again"
    UNSUPPORTED = "the router has no PublishStream: publish through unary Publish"


def after_break(code: grpc.StatusCode, sends: int) -> Next:
    """A request unanswered when its stream ended with `code` (OK: the router ended it),
    written on `sends` streams so far. Its outcome is unknown — stored or not — and sending
    it again is safe (the event ids deduplicate)."""
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Next.UNSUPPORTED
    if code in REFUSED:
        return Next.REFUSED
    return Next.RESEND if sends < SENDS else Next.GIVE_UP


class StreamUnsupported(Exception):
    """The router has no PublishStream: publish through unary Publish instead."""


@dataclass(eq=False)
class _Unanswered:
    request: router_pb2.PublishRequest
    future: asyncio.Future[router_pb2.PublishResponse] = field(repr=False)
    sends: int = 0


class PublishStream:
    """Publish calls on one stream, opened on first use and again after a break.
    `open_call` opens a fresh PublishStream call."""

    def __init__(self, open_call: Callable[[], Call]) -> None:
        self._open_call = open_call
        self._call: Call | None = None
        self._unanswered: deque[_Unanswered] = deque()
        # Writes in the queue's order: appending a request and writing it happen together.
        self._writing = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.streams_opened = 0

    async def publish(self, request: router_pb2.PublishRequest, timeout: float) -> router_pb2.PublishResponse:
        """The router's answer to `request`; RequestFailed when the stream could not get
        one (UNAVAILABLE: safe to publish again), StreamUnsupported on a router without it."""
        pending = _Unanswered(request, asyncio.get_running_loop().create_future())
        async with self._writing:
            self._unanswered.append(pending)
            await self._write([pending])
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except TimeoutError:
            pending.future.cancel()
            # A stream that answers nothing for this long is stuck: start over on a fresh
            # one (the break resends the other waiting requests there).
            if self._call is not None:
                self._call.cancel()
            raise RequestFailed(Code.DEADLINE_EXCEEDED, f"no answer on the stream in {timeout:g} s") from None

    async def close(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        for task in list(self._tasks):
            task.cancel()
        self._fail(list(self._unanswered), RequestFailed(Code.CANCELLED, "the producer is closed"))
        self._unanswered.clear()

    # --- inside -----------------------------------------------------------------------

    async def _write(self, requests: list[_Unanswered]) -> None:
        """Write these (the caller holds the lock): on the open stream, or on a fresh one
        with every waiting request written first, in order."""
        if self._call is None:
            self._call = self._open_call()
            self.streams_opened += 1
            self._spawn(self._read(self._call))
            requests = list(self._unanswered)
        for pending in requests:
            if pending.future.done():  # abandoned: its answer is still read, and dropped
                continue
            pending.sends += 1
            try:
                await self._call.write(pending.request)
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                return  # the stream broke: its reader sees it and deals with what waits

    async def _read(self, call: Call) -> None:
        code, detail = grpc.StatusCode.OK, "the router ended the stream"
        try:
            async for response in call:
                if not self._unanswered:
                    break  # more answers than requests: not a router we understand
                pending = self._unanswered.popleft()
                if not pending.future.done():
                    pending.future.set_result(response)
        except grpc.aio.AioRpcError as exc:
            code, detail = exc.code(), exc.details() or ""
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # closing
            # grpc.aio ends a call cancelled here (a stuck stream, see publish) so.
            code, detail = grpc.StatusCode.CANCELLED, "the stream was given up"
        self._broken(call, code, detail)

    def _broken(self, call: Call, code: grpc.StatusCode, detail: str) -> None:
        if call is not self._call:
            return  # an earlier stream, already replaced
        self._call = None
        again: deque[_Unanswered] = deque()
        for pending in self._unanswered:
            if pending.future.done():
                continue
            match after_break(code, pending.sends):
                case Next.RESEND:
                    again.append(pending)
                case Next.UNSUPPORTED:
                    pending.future.set_exception(StreamUnsupported())
                case Next.REFUSED:
                    pending.future.set_exception(RequestFailed(code.value[0], detail))
                case Next.GIVE_UP:
                    pending.future.set_exception(
                        RequestFailed(
                            Code.UNAVAILABLE, f"the stream broke before the router answered: {detail}"
                        )
                    )
        self._unanswered = again
        if again:
            self._spawn(self._resend())

    async def _resend(self) -> None:
        async with self._writing:
            if self._call is None and self._unanswered:
                await self._write([])

    def _fail(self, waiting: list[_Unanswered], error: Exception) -> None:
        for pending in waiting:
            if not pending.future.done():
                pending.future.set_exception(error)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
