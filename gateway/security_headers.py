"""Headers that tell a browser how to treat what the gateway sends: never guess a type
(`nosniff`), never frame it (`frame-ancestors 'none'`, `X-Frame-Options` for older
browsers), run only the console's own files (its CSP: it has no inline script or style),
and keep no copy of an API answer — they carry auth tokens, secrets and account data."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console is static HTML, one CSS file and its JavaScript modules, calling the API on
# the same origin; its charts are SVG built in the page.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Everything else is data, never a page: nothing in it may load or run.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
API_PREFIXES = ("/v1/", "/2010-04-01/")


def headers_for(path: str) -> dict[str, str]:
    found = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": CONSOLE_POLICY if path.startswith("/console") else DATA_POLICY,
    }
    if path.startswith(API_PREFIXES):
        found["Cache-Control"] = "no-store"
    return found


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        wanted = headers_for(str(scope.get("path", "")))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self._app(scope, receive, with_headers)
