"""One Starlette route per path, whatever its methods: a 405 then names every method the
resource supports in `Allow` (one route per method would name only the first's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def resources(*entries: tuple[str, str, Endpoint]) -> list[Route]:
    """(path, method, endpoint) triples → routes, grouped by path in first-seen order."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for path, method, endpoint in entries:
        by_path.setdefault(path, {})[method] = endpoint
    return [_route(path, handlers) for path, handlers in by_path.items()]


def _route(path: str, handlers: dict[str, Endpoint]) -> Route:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, dispatch, methods=list(handlers))
