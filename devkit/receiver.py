"""A real local webhook receiver: records every request, answers what it is told to, and
(as a command) prints each event and whether its X-Twilio-Signature is valid.

    python -m devkit.receiver --port 9000 [--auth-token TOKEN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    at: float

    def events(self) -> list[dict[str, Any]]:
        if not self.body:
            return []
        parsed = json.loads(self.body)
        return parsed if isinstance(parsed, list) else [parsed]


Responder = Callable[[Received], Awaitable[web.StreamResponse] | web.StreamResponse]


def signature_valid(auth_token: str, received: Received) -> bool:
    """Checked with twilio-python's own RequestValidator, as a Twilio customer would."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)
    body = received.body.decode() if received.method == "POST" else {}
    return bool(validator.validate(received.url, body, received.headers.get("X-Twilio-Signature", "")))


@dataclass
class Receiver:
    responder: Responder | None = None
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = Received(
            request.method, str(request.url), dict(request.headers), await request.read(), time.time()
        )
        self.received.append(record)
        self._changed.set()
        if self.responder is None:
            return web.Response(status=200)
        answer = self.responder(record)
        if isinstance(answer, web.StreamResponse):
            return answer
        return await answer

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def events(self) -> list[dict[str, Any]]:
        return [event for record in self.received for event in record.events()]

    async def wait_for(self, condition: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"receiver: condition not met in {timeout}s ({len(self.received)} requests)"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass


def _token_from_dev_account() -> str | None:
    path = Path("data/dev-account.json")
    return str(json.loads(path.read_text())["auth_token"]) if path.exists() else None


async def _count(port: int) -> None:
    """A quiet receiver for load: counts events, answers 200, reports on GET /_stats."""
    events = 0
    requests = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal events, requests
        body = await request.read()
        requests += 1
        if body.startswith(b"["):
            events += len(json.loads(body))
        elif body:
            events += 1
        return web.Response(status=200)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"events": events, "requests": requests})

    app = web.Application(client_max_size=16 << 20)
    app.router.add_get("/_stats", stats)
    app.router.add_route("*", "/{tail:.*}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"counting receiver on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


async def _main(port: int, auth_token: str | None) -> None:
    def show(record: Received) -> web.StreamResponse:
        token = auth_token or _token_from_dev_account()
        verdict = "unchecked (no auth token)"
        if token:
            verdict = "valid" if signature_valid(token, record) else "INVALID"
        for event in record.events():
            print(f"{event.get('type')} id={event.get('id')} signature {verdict}")
            print("  " + json.dumps(event.get("data"))[:300], flush=True)
        return web.Response(status=200)

    receiver = Receiver(responder=show)
    url = await receiver.start(port=port)
    print(f"receiver listening on {url}/events", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--auth-token", help="validate signatures with this token (default: the dev account's)"
    )
    parser.add_argument("--count-only", action="store_true", help="count events quietly (for load)")
    args = parser.parse_args()
    try:
        asyncio.run(_count(args.port) if args.count_only else _main(args.port, args.auth_token))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
