"""The gateway's HTTP figures: requests by method, route template and status, and their
duration — labelled by the route's template (`/v1/Sinks/{sid}`), never the path itself (one
series per sink would be unbounded)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.metrics import CALL_BUCKETS, Metrics


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Iterable[BaseRoute]) -> None:
        self._app = app
        self._templates: dict[Any, str] = {}
        for route in routes:
            if isinstance(route, Route):
                self._templates.setdefault(route.endpoint, route.path)
        self._requests = metrics.counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
        )
        self._seconds = metrics.histogram(
            "http_request_duration_seconds",
            "time to answer an HTTP request",
            ["method", "route"],
            CALL_BUCKETS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            route = self._templates.get(scope.get("endpoint"), "unmatched")
            method = str(scope.get("method", ""))
            self._requests.labels(method, route, str(status)).inc()
            self._seconds.labels(method, route).observe(time.perf_counter() - started)
