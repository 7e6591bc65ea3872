"""A real local stand-in for Segment's HTTP Tracking API (`POST /v1/batch`, `POST /v1/track`),
for tests and the bench: it checks what Segment documents, records what it accepts, and
misbehaves on demand.

    python -m tests.support.segment_receiver --port 9100 --write-key KEY [--write-key KEY2]

What it checks, as Segment documents it:
- HTTP Basic auth, the write key as the username and an empty password (the password is not
  checked, as Segment does not); no or an unknown write key → 401;
- `Content-Type: application/json`; a gzip body (`Content-Encoding: gzip`) is accepted;
- a request is at most 500 KB (its decompressed body), a message at most 32 KB (its compact
  JSON); a larger one → 400;
- `{"batch": [message, ...]}` on /v1/batch, one message on /v1/track; every message a track
  call: `type` "track" (implied on /v1/track), a non-empty `event`, a `messageId`, an ISO-8601
  `timestamp`, an object `properties` and a non-empty `userId` or `anonymousId`.
A bad request is refused whole (nothing of it recorded) with 400 `{"success": false,
"message": ...}`; a good one answers 200 `{"success": true}`.

Stricter than Segment in one respect: Segment answers 200 to a payload that is well-formed JSON
but lacks an identifier or an event name (and shows the drop only in its debugger); this
stand-in answers 400, so that a client bug fails a test instead of vanishing.

Nothing is deduplicated (Segment dedupes on messageId downstream): `distinct_message_ids()`
counts what Segment would keep.

Faults, settable at runtime, each for the next `count` requests or (count None) until
`clear_faults()`: `fail(status, retry_after=...)`, `delay(seconds)`, `drop()` (close the
connection without answering); and `go_down()` / `come_up()` (stop listening, then listen on
the same port again: connection refused meanwhile). `GET /_stats` reports the counters.

`GET /_messages?since=N` pages through the accepted messages in arrival order, from index N:
`{"next": M, "messages": [{"write_key", "path", "at", "message"}, ...]}`; with `&ids=1` only
`{"next": M, "ids": [...], "at": [...]}` (messageIds and receipt times, epoch seconds) —
cheap enough to poll while messages pour in. `--quiet` does not print each message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
DEV_WRITE_KEY = "dev-segment-write-key"
PATHS = ("/v1/batch", "/v1/track")


@dataclass(frozen=True)
class SegmentMessage:
    """One accepted message, with the write key it came under."""

    write_key: str
    message: dict[str, Any]
    path: str
    at: float


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Fault:
    """A fault for the next `remaining` requests, or (None) until cleared."""

    remaining: int | None
    status: int = 0
    seconds: float = 0.0
    retry_after: str | None = None
    message: str | None = None

    def take(self) -> bool:
        """Consume one request of this fault; False once it is used up."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


def _count(count: int | None) -> int | None:
    if count is not None and count < 1:
        raise ValueError(f"count must be at least 1 or None (until cleared), not {count}")
    return count


def message_size(message: Any) -> int:
    """The size Segment's 32 KB per-message limit applies to: the message's compact JSON."""
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _iso8601(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def message_problem(message: Any, type_implied: bool = False) -> str | None:
    """Why Segment (this stand-in) would refuse a track message; None if it would not."""
    if not isinstance(message, dict):
        return "message is not an object"
    kind = message.get("type")
    if kind is None and not type_implied:
        return "type is required"
    if kind is not None and kind != "track":
        return f"unsupported type {kind!r}: only track is accepted"
    if not _non_empty_string(message.get("event")):
        return "event is required (a non-empty string)"
    if not isinstance(message.get("messageId"), str):
        return "messageId is required (a string)"
    if not _iso8601(message.get("timestamp")):
        return "timestamp is required (an ISO-8601 string)"
    if not isinstance(message.get("properties"), dict):
        return "properties is required (an object)"
    for key in ("context", "integrations"):
        if key in message and not isinstance(message[key], dict):
            return f"{key} must be an object"
    if not (_non_empty_string(message.get("userId")) or _non_empty_string(message.get("anonymousId"))):
        return "userId or anonymousId is required (a non-empty string)"
    size = message_size(message)
    if size > MAX_MESSAGE_BYTES:
        return f"message is {size} bytes, more than the {MAX_MESSAGE_BYTES} allowed"
    return None


def track_message(
    event: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: dict[str, Any] | None = None,
    message_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """A valid track message (a userId of "user-1" unless an identifier is given)."""
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": message_id or str(uuid.uuid4()),
        "timestamp": timestamp or datetime.now(UTC).isoformat(),
        "properties": properties if properties is not None else {},
    }
    if user_id is None and anonymous_id is None:
        user_id = "user-1"
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    return message


def write_key_of(authorization: str | None) -> str | None:
    """The username of an HTTP Basic Authorization header (Segment's write key), if any."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, _password = decoded.partition(":")
    return username or None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"success": False, "message": message}, status=status, headers=headers)


@dataclass
class SegmentReceiver:
    write_keys: set[str] = field(default_factory=set)
    echo: bool = False
    accepted: list[SegmentMessage] = field(default_factory=list)
    requests_received: int = 0
    non_2xx: int = 0
    dropped: int = 0
    statuses: list[int] = field(default_factory=list)
    port: int = 0
    host: str = "127.0.0.1"
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _failure: _Fault | None = None
    _delay: _Fault | None = None
    _drop: _Fault | None = None
    _closing: bool = False

    # -- write keys ------------------------------------------------------------------------

    def add_write_key(self, write_key: str) -> None:
        if not write_key:
            raise ValueError("a write key must be non-empty")
        self.write_keys.add(write_key)

    def remove_write_key(self, write_key: str) -> None:
        self.write_keys.discard(write_key)

    # -- faults ----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        count: int | None = None,
        *,
        retry_after: float | str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer `status` (with Retry-After, if given) to the next `count` requests, or to
        every request until `clear_faults()`."""
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        header = None
        if retry_after is not None:
            header = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        self._failure = _Fault(_count(count), status=status, retry_after=header, message=message)

    def delay(self, seconds: float, count: int | None = None) -> None:
        """Hold the answer to the next `count` requests (or all, until cleared) for `seconds`.
        `clear_faults()` and `stop()` release the requests being held."""
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        self._delay = _Fault(_count(count), seconds=seconds)

    def drop(self, count: int | None = None) -> None:
        """Close the connection of the next `count` requests (or all, until cleared) unanswered."""
        self._drop = _Fault(_count(count))

    def clear_faults(self) -> None:
        self._failure = self._delay = self._drop = None
        self._release.set()
        self._release = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the Segment receiver is already listening")
        app = web.Application(client_max_size=64 << 20)  # limits are checked here, with Segment's 400
        app.router.add_get("/_stats", self._stats)
        app.router.add_get("/_messages", self._messages)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        server = site._server
        assert server is not None
        self.host = host
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._runner = runner
        self._closing = False
        return self.url

    async def stop(self) -> None:
        """Stop listening; requests being held by a delay lose their connection unanswered."""
        self._closing = True
        self._release.set()
        self._release = asyncio.Event()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def go_down(self) -> None:
        """Stop listening (and close open connections): connection refused until `come_up()`."""
        if self.port == 0:
            raise RuntimeError("the Segment receiver was never started")
        await self.stop()

    async def come_up(self) -> None:
        """Listen again, on the same port as before."""
        if self._runner is None:
            await self.start(self.host, self.port)

    @property
    def down(self) -> bool:
        return self._runner is None

    @property
    def url(self) -> str:
        """The base URL: clients POST to f"{url}/v1/batch"."""
        if self.port == 0:
            raise RuntimeError("the Segment receiver is not started")
        return f"http://{self.host}:{self.port}"

    # -- what was received -----------------------------------------------------------------

    def messages(self, write_key: str | None = None) -> list[dict[str, Any]]:
        """The accepted messages in arrival order (duplicates included)."""
        return [m.message for m in self.accepted if write_key is None or m.write_key == write_key]

    def distinct_message_ids(self, write_key: str | None = None) -> int:
        """How many messages Segment would keep after deduplicating on messageId."""
        return len({str(message["messageId"]) for message in self.messages(write_key)})

    def reset(self) -> None:
        """Forget what was received, zero the counters and clear the faults."""
        self.accepted.clear()
        self.statuses.clear()
        self.requests_received = self.non_2xx = self.dropped = 0
        self.clear_faults()

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests_received,
            "non_2xx": self.non_2xx,
            "dropped": self.dropped,
            "messages": len(self.accepted),
            "distinct_message_ids": self.distinct_message_ids(),
        }

    async def wait_for(self, condition: Callable[[SegmentReceiver], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"segment receiver: condition not met in {timeout}s ({self.requests_received} "
                    f"requests, {len(self.accepted)} messages)"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def wait_for_messages(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until at least `n` messages were accepted; returns all accepted so far."""
        await self.wait_for(lambda receiver: len(receiver.accepted) >= n, timeout)
        return self.messages()

    # -- serving ---------------------------------------------------------------------------

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            since = max(0, int(request.query.get("since", "0")))
        except ValueError:
            return _error(400, "since must be an integer")
        page = self.accepted[since:]
        body: dict[str, Any] = {"next": since + len(page)}
        if request.query.get("ids") in ("1", "true"):
            body["ids"] = [str(m.message.get("messageId")) for m in page]
            body["at"] = [m.at for m in page]
        else:
            body["messages"] = [
                {"write_key": m.write_key, "path": m.path, "at": m.at, "message": m.message} for m in page
            ]
        return web.json_response(body)

    def _take(self, fault: _Fault | None) -> bool:
        if fault is None or not fault.take():
            return False
        if fault.remaining == 0:
            if fault is self._failure:
                self._failure = None
            elif fault is self._delay:
                self._delay = None
            elif fault is self._drop:
                self._drop = None
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests_received += 1
        self._changed.set()
        delay = self._delay
        if self._take(delay):
            assert delay is not None
            try:
                await asyncio.wait_for(self._release.wait(), delay.seconds)
            except TimeoutError:
                pass
        if self._closing or self._take(self._drop):
            self.dropped += 1
            self._changed.set()
            if request.transport is not None:
                request.transport.abort()
            self._note(request, None, "dropped the connection")
            return web.Response(status=500)  # never sent: the connection is gone
        failure = self._failure
        if self._take(failure):
            assert failure is not None
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else None
            reason = failure.message or f"injected fault: {failure.status}"
            return self._answer(request, _error(failure.status, reason, headers), reason)
        try:
            write_key, messages = await self._accept(request)
        except Rejected as rejected:
            return self._answer(request, _error(rejected.status, rejected.message), rejected.message)
        now = time.time()
        self.accepted.extend(SegmentMessage(write_key, message, request.path, now) for message in messages)
        return self._answer(request, web.json_response({"success": True}), f"{len(messages)} accepted")

    async def _accept(self, request: web.Request) -> tuple[str, list[dict[str, Any]]]:
        if request.method != "POST":
            raise Rejected(405, f"{request.method} is not allowed: POST")
        if request.path not in PATHS:
            raise Rejected(404, f"no such endpoint: {request.path}")
        write_key = write_key_of(request.headers.get("Authorization"))
        if write_key is None:
            raise Rejected(401, "missing write key: use HTTP Basic auth, the write key as the username")
        if write_key not in self.write_keys:
            raise Rejected(401, "invalid write key")
        if request.content_type != "application/json":
            raise Rejected(400, f"Content-Type must be application/json, not {request.content_type!r}")
        body = await request.read()  # decompressed (Content-Encoding: gzip) by aiohttp
        single = request.path == "/v1/track"
        limit = MAX_MESSAGE_BYTES if single else MAX_REQUEST_BYTES
        if len(body) > limit:
            raise Rejected(400, f"request is {len(body)} bytes, more than the {limit} allowed")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise Rejected(400, "Invalid JSON") from None
        if single:
            problem = message_problem(payload, type_implied=True)
            if problem is not None:
                raise Rejected(400, problem)
            return write_key, [payload]
        if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
            raise Rejected(400, 'a batch is {"batch": [message, ...]}')
        batch: list[Any] = payload["batch"]
        if not batch:
            raise Rejected(400, "batch is empty")
        for index, message in enumerate(batch):
            problem = message_problem(message)
            if problem is not None:
                raise Rejected(400, f"batch[{index}]: {problem}")
        return write_key, batch

    def _answer(self, request: web.Request, response: web.Response, note: str) -> web.Response:
        self.statuses.append(response.status)
        if not 200 <= response.status < 300:
            self.non_2xx += 1
        self._changed.set()
        self._note(request, response.status, note)
        return response

    def _note(self, request: web.Request, status: int | None, note: str) -> None:
        if self.echo:
            print(f"{request.method} {request.path} -> {status or '-'} {note}", flush=True)


def _show(receiver: SegmentReceiver, seen: int) -> int:
    for record in receiver.accepted[seen:]:
        message = record.message
        who = message.get("userId") or f"anonymous {message.get('anonymousId')}"
        print(f"  track {message.get('event')!r} {who} messageId={message.get('messageId')}", flush=True)
        print("    " + json.dumps(message.get("properties"))[:300], flush=True)
    return len(receiver.accepted)


async def _main(port: int, write_keys: Iterable[str], quiet: bool = False) -> None:
    receiver = SegmentReceiver(write_keys=set(write_keys), echo=not quiet)
    url = await receiver.start(port=port)
    print(f"Segment receiver listening on {url}/v1/batch (and /v1/track, GET /_stats)", flush=True)
    if quiet:
        await asyncio.Event().wait()  # serve until stopped
    seen = 0
    while True:
        await receiver.wait_for_messages(seen + 1, timeout=float("inf"))
        seen = _show(receiver, seen)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--write-key",
        action="append",
        dest="write_keys",
        metavar="KEY",
        help=f"accept this write key (repeatable; default: {DEV_WRITE_KEY})",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print each message received")
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.port, args.write_keys or [DEV_WRITE_KEY], args.quiet))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
