"""The Router gRPC service."""

from __future__ import annotations

from typing import Any

import grpc

from eventstreams.v1 import router_pb2, router_pb2_grpc
from runtime import tracing
from runtime.errors import InvalidArgument
from services.router.publishing import Publisher


class RouterServicer(router_pb2_grpc.RouterServicer):
    def __init__(self, publisher: Publisher, max_batch: int) -> None:
        self._publisher = publisher
        self._max_batch = max_batch

    async def Publish(
        self, request: router_pb2.PublishRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> router_pb2.PublishResponse:
        if not request.events:
            raise InvalidArgument("a Publish request carries at least one event")
        if len(request.events) > self._max_batch:
            raise InvalidArgument(f"a Publish request carries at most {self._max_batch} events")
        parent = tracing.extract_grpc(context.invocation_metadata())
        return await self._publisher.publish(list(request.events), parent)
