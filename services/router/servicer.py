"""The Router gRPC service: Publish, and PublishStream — the same calls on one long-lived
stream, so a producer sending a few events at a time does not pay a gRPC call for each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from opentelemetry.context import Context

from eventstreams.v1 import router_pb2, router_pb2_grpc
from runtime import service_auth, tracing
from runtime.errors import InvalidArgument, PermissionDenied, ServiceError
from runtime.service_auth import Caller
from services.router.publishing import Publisher

log = logging.getLogger(__name__)

# How many requests of one stream are worked on at once before the router stops reading it
# (the producer's writes then wait on gRPC's flow control): one stream asks no more of the
# router than this many concurrent Publish calls would.
STREAM_WINDOW = 64

Answer = asyncio.Task[router_pb2.PublishResponse]


class RouterServicer(router_pb2_grpc.RouterServicer):
    def __init__(self, publisher: Publisher, max_batch: int) -> None:
        self._publisher = publisher
        self._max_batch = max_batch
        # Each open stream's reader: stopped when the router drains.
        self._readers: set[asyncio.Task[None]] = set()
        self._draining = False

    async def drain(self) -> None:
        """Stop reading every stream, and take no new one: each answers what it has read and
        ends, so its producer sends the rest on a fresh stream (another replica) at once,
        rather than the server waiting out its grace period for streams that never end."""
        self._draining = True
        for reader in list(self._readers):
            reader.cancel()

    async def Publish(
        self, request: router_pb2.PublishRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> router_pb2.PublishResponse:
        parent = tracing.extract_grpc(context.invocation_metadata())
        return await self._publish(request, parent, service_auth.caller(context))

    async def PublishStream(
        self,
        request_iterator: AsyncIterator[router_pb2.PublishRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[router_pb2.PublishResponse]:
        """Each request answered in the order it came, as Publish answers it; a request
        Publish would fail is answered with its status instead, and the stream goes on.
        Requests are published concurrently (up to STREAM_WINDOW unanswered): one waiting for
        JetStream does not hold up the next one's validation and routing."""
        if self._draining:
            return
        parent = tracing.extract_grpc(context.invocation_metadata())
        who = service_auth.caller(context)
        window = asyncio.Semaphore(STREAM_WINDOW)
        # Each request's answer as a task, in request order; None once the requests end.
        answers: asyncio.Queue[Answer | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for request in request_iterator:
                    await window.acquire()
                    answers.put_nowait(asyncio.create_task(self._answer(request, parent, who)))
            finally:
                answers.put_nowait(None)

        reader = asyncio.create_task(read())
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        answer: Answer | None = None
        try:
            while (answer := await answers.get()) is not None:
                response = await answer
                window.release()
                yield response
            await asyncio.wait([reader])
            if not reader.cancelled():  # cancelled: the router drains, the stream ends well
                reader.result()  # what ended the requests, if it was an error
        finally:
            # The caller left (or the requests failed): nobody waits for what is unanswered.
            reader.cancel()
            if answer is not None:
                answer.cancel()
            while not answers.empty():
                left = answers.get_nowait()
                if left is not None:
                    left.cancel()

    async def _answer(
        self, request: router_pb2.PublishRequest, parent: Context | None, who: Caller
    ) -> router_pb2.PublishResponse:
        try:
            return await self._publish(request, parent, who)
        except ServiceError as exc:
            return router_pb2.PublishResponse(code=exc.grpc_code.value[0], message=exc.message)
        except Exception:
            # As a unary call's unexpected error: INTERNAL, the stream goes on.
            log.exception("publishing a streamed request failed")
            return router_pb2.PublishResponse(
                code=grpc.StatusCode.INTERNAL.value[0], message="internal error"
            )

    async def _publish(
        self, request: router_pb2.PublishRequest, parent: Context | None, who: Caller
    ) -> router_pb2.PublishResponse:
        if not request.events:
            raise InvalidArgument("a Publish request carries at least one event")
        if len(request.events) > self._max_batch:
            raise InvalidArgument(f"a Publish request carries at most {self._max_batch} events")
        if who.role in service_auth.PUBLISH_TYPES:
            for event in request.events:
                if not service_auth.may_publish(who, event.type, sink_test=bool(event.sink_sid)):
                    raise PermissionDenied(
                        f"{who.name} ({who.role}) may not publish {event.type!r}"
                        + (" to one sink" if event.sink_sid else "")
                    )
        return await self._publisher.publish(list(request.events), parent)
