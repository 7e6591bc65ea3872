"""Service-to-service authentication: a shared secret every internal gRPC call carries.

Any pod of a cluster can reach the services' ports; without this, any of them could watch
every account's routing (auth tokens included), create API keys, read delivery logs or
publish events. The secret comes from the environment (`ES_SERVICE_TOKEN`, a Kubernetes
Secret in deploy/k8s; `make run` and the tests generate one): callers attach it with
`clients.channel(..., token)`, servers refuse calls without it (UNAUTHENTICATED). Health
checks and reflection stay open (probes, grpcurl's listing), and carry nothing of a tenant.
A shared secret rather than mTLS: one value to rotate, nothing to issue per pod; the
transport can add TLS underneath (a service mesh) without changing this.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

HEADER = "x-es-service-token"
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _allowed(method: str, metadata: Any, token: str) -> bool:
    if method.startswith(OPEN_PREFIXES):
        return True
    for key, value in metadata or ():
        if key == HEADER:
            return hmac.compare_digest(str(value).encode(), token.encode())
    return False


class RequireToken(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or _allowed(method, handler_call_details.invocation_metadata, self._token):
            return handler
        message = f"{method}: missing or wrong service token"

        async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        async def deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            yield  # pragma: no cover - a generator, to match the handler's kind

        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(deny, **codec)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(deny_stream, **codec)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(deny, **codec)
        return grpc.stream_stream_rpc_method_handler(deny_stream, **codec)


class _Attach:
    def __init__(self, token: str) -> None:
        self._token = token

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata[HEADER] = self._token
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# One class per kind of call: grpc.aio files an interceptor under the first kind it is an
# instance of, so one object implementing all four would only ever see unary calls.
class _UnaryUnary(_Attach, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _UnaryStream(_Attach, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._with_token(details), request)


class _StreamUnary(_Attach, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


class _StreamStream(_Attach, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._with_token(details), requests)


def attach_token(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors that put the service token on every call of a channel."""
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]
