"""A cap on request bodies: one request cannot make the gateway hold more than this much
(1,000 form fields of 1 MB each would be 1 GB against a 384 MiB pod). Checked on the
declared length first, then on what actually arrives (chunked bodies declare none)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import twilio_error

# Twilio's error code for a request the server will not process as sent.
TOO_LARGE_CODE = 20001


def too_large(limit: int) -> str:
    return f"Request body is larger than {limit} bytes"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max):
            await twilio_error(413, TOO_LARGE_CODE, too_large(self._max))(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await twilio_error(413, TOO_LARGE_CODE, too_large(self._max))(scope, receive, send)
