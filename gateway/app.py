"""The gateway's composition root: a Starlette app translating Twilio Events v1 to gRPC."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from eventstreams.v1 import catalog_pb2_grpc, control_pb2_grpc, delivery_pb2_grpc
from gateway import (
    accounts,
    alerts,
    auth_tokens,
    deliveries,
    openapi,
    portal,
    sink_types,
    sinks,
    subscriptions,
    types,
    usage,
)
from gateway.auth import Authenticator
from gateway.body_limit import TOO_LARGE_CODE, BodyLimit, BodyTooLarge, too_large
from gateway.context import Backends
from gateway.errors import from_grpc, from_service_error, twilio_error
from gateway.http_metrics import HttpMetrics
from gateway.security_headers import SecurityHeaders
from gateway.settings import Settings
from runtime import clients
from runtime.errors import ServiceError
from runtime.metrics import Metrics

log = logging.getLogger(__name__)
CONSOLE = Path(__file__).parent / "console"


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build(settings: Settings) -> Starlette:
    control_channel = clients.channel(settings.control_target, settings.service_token)
    catalog_channel = clients.channel(settings.catalog_target, settings.service_token)
    delivery_channel = clients.channel(settings.delivery_target, settings.service_token)
    control = control_pb2_grpc.ControlStub(control_channel)
    backends = Backends(
        control=control,
        catalog=catalog_pb2_grpc.CatalogStub(catalog_channel),
        delivery=delivery_pb2_grpc.DeliveryStub(delivery_channel),
        auth=Authenticator(control, settings.auth_cache_seconds),
        public_url=settings.public_url.rstrip("/"),
        portal=portal.Portal(
            control, settings.portal_secret, settings.portal_max_ttl_seconds, settings.auth_cache_seconds
        ),
    )

    metrics = Metrics.of("gateway", settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if metrics is not None:
            metrics.serve()
        yield
        if metrics is not None:
            metrics.close()
        await control_channel.close()
        await catalog_channel.close()
        await delivery_channel.close()

    async def on_service_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return from_service_error(exc)

    async def on_grpc_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, grpc.aio.AioRpcError)
        if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            log.warning("backend call failed: %s %s", exc.code().name, exc.details())
        return from_grpc(exc)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: 20404, 405: 20004}.get(exc.status_code, 20001)
        response = twilio_error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    async def on_too_large(_request: Request, exc: Exception) -> Response:
        return twilio_error(413, TOO_LARGE_CODE, too_large(settings.max_body_bytes))

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return twilio_error(500, 20500, "Internal Server Error")

    routes = [
        Route("/healthz", health, methods=["GET"]),
        # The web console: static files calling the same REST API (gateway/console/).
        Route("/", lambda _request: RedirectResponse("/console/"), methods=["GET"]),
        Route("/console", lambda _request: RedirectResponse("/console/"), methods=["GET"]),
        Mount("/console", app=StaticFiles(directory=CONSOLE, html=True), name="console"),
        *openapi.routes(settings.public_url.rstrip("/")),
        *accounts.routes(backends),
        *auth_tokens.routes(backends),
        *usage.routes(backends),
        *types.routes(backends),
        *sink_types.routes(backends),
        *sinks.routes(backends),
        *deliveries.routes(backends),
        *subscriptions.routes(backends),
        *alerts.routes(backends),
        *portal.routes(backends),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ServiceError: on_service_error,
            grpc.aio.AioRpcError: on_grpc_error,
            HTTPException: on_http_error,
            BodyTooLarge: on_too_large,
            Exception: on_unexpected,
        },
        middleware=[
            *([Middleware(HttpMetrics, metrics=metrics, routes=routes)] if metrics is not None else []),
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
