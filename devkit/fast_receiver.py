"""The bench's webhook receiver: as fast as Python practically gets (a raw ASGI app on
uvicorn with httptools + uvloop, ≈ 33k requests/s on this kind of machine), so that the
receiver is never what a bench measures.

    python -m devkit.fast_receiver --port 9100 [--slow-seconds 60]

Per path it counts requests and events (a JSON array body is many events, an object one),
and per event records the latency `now - event time` (the CloudEvent `time`, which the
bench sets to its send time) in per-second buckets. A repeated event id on the same path is
counted as a duplicate and not timed again, so latencies are first attempts.

- any path starting with /slow answers only after --slow-seconds (longer than the webhook
  timeout) or when the client gives up: a destination that always times out;
- GET /_stats: counters per path (cheap, for polling);
- GET /_latency?path=/x: percentiles overall and per second for that path;
- POST /_reset: forget everything;
- POST /_track?path=/x: from now on record, for that path, each event's first successful
  receipt time and every request (time, status, events in it);
- POST /_fail?path=/x&seconds=20&status=500: an outage — answer `status` to every request
  on that path for `seconds` from now (nothing of them is recorded as received); answers
  {"path", "from", "until", "status"} (epoch seconds, this machine's clock);
- GET /_arrivals?path=/x: what /_track recorded: {"ids", "received_ms", "requests",
  "outage"} (ids and receipt times in the same order; requests as [time, status, events]).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SLOW_PREFIX = "/slow"
PERCENTILES = (50, 95, 99)
# Receipt seconds counted as warm-up in a latency run.
WARM_UP_SECONDS = 1


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(latencies: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    figures: dict[str, Any] = {"count": len(ordered)}
    for pct in PERCENTILES:
        figures[f"p{pct}_ms"] = percentile(ordered, pct)
    figures["max_ms"] = ordered[-1] if ordered else None
    figures["mean_ms"] = round(sum(ordered) / len(ordered), 2) if ordered else None
    return figures


class EventClock:
    """`2026-03-29T04:00:56.753Z` → epoch ms, caching the seconds part (events of one
    second share it), with a general fallback for any other RFC 3339 form."""

    def __init__(self) -> None:
        self._seconds: dict[str, int] = {}

    def epoch_ms(self, stamp: str) -> int:
        if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z":
            head = stamp[:19]
            seconds = self._seconds.get(head)
            if seconds is None:
                if len(self._seconds) > 4096:
                    self._seconds.clear()
                seconds = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
                self._seconds[head] = seconds
            return seconds * 1000 + int(stamp[20:23])
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)


@dataclass
class PathStats:
    requests: int = 0
    events: int = 0
    duplicates: int = 0
    unparsed: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    seen: set[str] = field(default_factory=set)
    latencies: list[int] = field(default_factory=list)
    by_second: dict[int, list[int]] = field(default_factory=dict)
    # Only on a tracked path (POST /_track): first 2xx receipt per event id (epoch ms, to the
    # microsecond), and every request as (epoch seconds, status answered, events in its body).
    arrivals: dict[str, float] | None = None
    requests_log: list[tuple[float, int, int]] | None = None

    def counters(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "events": self.events,
            "duplicates": self.duplicates,
            "unparsed": self.unparsed,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def latency(self) -> dict[str, Any]:
        seconds = sorted(self.by_second)
        warm = [v for second in seconds[:WARM_UP_SECONDS] for v in self.by_second[second]]
        steady = [v for second in seconds[WARM_UP_SECONDS:] for v in self.by_second[second]]
        return {
            "overall": summary(self.latencies),
            # The first seconds of a run apart (connections, caches, JIT-less Python warming
            # its dicts): what a warm pipeline does is the rest.
            "warm_up": summary(warm),
            "steady": summary(steady),
            "per_second": [
                {"second": second, **summary(values)} for second, values in sorted(self.by_second.items())
            ],
        }


@dataclass(frozen=True)
class Outage:
    """Answer `status` to every request on a path from `start` until `until` (epoch s)."""

    start: float
    until: float
    status: int

    def report(self, path: str) -> dict[str, Any]:
        return {"path": path, "from": self.start, "until": self.until, "status": self.status}


def count_events(body: bytes) -> int:
    """Events in a delivery body (a JSON array is many, anything else one)."""
    try:
        parsed = json.loads(body) if body else []
    except ValueError:
        return 0
    return len(parsed) if isinstance(parsed, list) else 1


@dataclass
class Recorder:
    clock: EventClock = field(default_factory=EventClock)
    paths: dict[str, PathStats] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    outages: dict[str, Outage] = field(default_factory=dict)

    def reset(self) -> None:
        self.paths = {}
        self.outages = {}
        self.started = time.time()

    def track(self, path: str) -> None:
        stats = self.stats(path)
        if stats.arrivals is None:
            stats.arrivals, stats.requests_log = {}, []

    def fail(self, path: str, seconds: float, status: int) -> Outage:
        now = time.time()
        outage = self.outages[path] = Outage(now, now + seconds, status)
        return outage

    def failing(self, path: str, body: bytes) -> int | None:
        """The status to answer if `path` is in an outage now (the request is counted and,
        on a tracked path, logged); None otherwise."""
        outage = self.outages.get(path)
        if outage is None:
            return None
        now = time.time()
        if now >= outage.until:
            return None
        stats = self.request(path)
        if stats.requests_log is not None:
            stats.requests_log.append((now, outage.status, count_events(body)))
        return outage.status

    def arrivals(self, path: str) -> dict[str, Any]:
        stats = self.paths.get(path, PathStats())
        arrivals = stats.arrivals or {}
        outage = self.outages.get(path)
        return {
            "ids": list(arrivals),
            "received_ms": list(arrivals.values()),
            "requests": [list(r) for r in stats.requests_log or []],
            "outage": outage.report(path) if outage else None,
        }

    def stats(self, path: str) -> PathStats:
        found = self.paths.get(path)
        if found is None:
            found = self.paths[path] = PathStats()
        return found

    def request(self, path: str) -> PathStats:
        stats = self.stats(path)
        stats.requests += 1
        return stats

    def record(self, path: str, body: bytes) -> None:
        now = time.time()
        stats = self.request(path)
        try:
            parsed = json.loads(body) if body else []
        except ValueError:
            stats.unparsed += 1
            return
        events = parsed if isinstance(parsed, list) else [parsed]
        now_ms = int(now * 1000)
        bucket = stats.by_second.setdefault(int(now), [])
        for event in events:
            self._event(stats, event, now, now_ms, bucket)
        if stats.requests_log is not None:
            stats.requests_log.append((now, 200, len(events)))
        if stats.first_at == 0.0:
            stats.first_at = now
        stats.last_at = now

    def _event(self, stats: PathStats, event: Any, now: float, now_ms: int, bucket: list[int]) -> None:
        if not isinstance(event, dict):
            stats.unparsed += 1
            return
        event_id = str(event.get("id", ""))
        if event_id in stats.seen:
            stats.duplicates += 1
            return
        stats.seen.add(event_id)
        stats.events += 1
        if stats.arrivals is not None:
            stats.arrivals[event_id] = round(now * 1000, 3)
        stamp = event.get("time")
        if not isinstance(stamp, str):
            return
        try:
            latency = now_ms - self.clock.epoch_ms(stamp)
        except ValueError:
            stats.unparsed += 1
            return
        stats.latencies.append(latency)
        bucket.append(latency)

    def counters(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "events": sum(s.events for s in self.paths.values()),
            "paths": {path: s.counters() for path, s in self.paths.items()},
        }


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def respond(send: Send, status: int = 200, body: bytes = b"", json_body: bool = False) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if json_body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class App:
    """The raw ASGI application."""

    def __init__(self, recorder: Recorder, slow_seconds: float) -> None:
        self.recorder = recorder
        self.slow_seconds = slow_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_"):
            await self._control(scope, path, send)
            return
        body = await read_body(receive)
        if path.startswith(SLOW_PREFIX):
            await self._slow(path, receive, send)
            return
        status = self.recorder.failing(path, body)
        if status is not None:
            await respond(send, status=status)
            return
        self.recorder.record(path, body)
        await respond(send)

    async def _slow(self, path: str, receive: Receive, send: Send) -> None:
        self.recorder.request(path)
        try:
            await asyncio.wait_for(wait_disconnect(receive), self.slow_seconds)
        except TimeoutError:
            await respond(send)

    async def _control(self, scope: Scope, path: str, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        wanted = query.get("path", [""])[0]
        post = scope["method"] == "POST"
        if path == "/_track" and post and wanted:
            self.recorder.track(wanted)
            await respond(send, status=204)
        elif path == "/_fail" and post and wanted:
            seconds = float(query.get("seconds", ["20"])[0])
            status = int(query.get("status", ["500"])[0])
            outage = self.recorder.fail(wanted, seconds, status)
            await respond(send, body=json.dumps(outage.report(wanted)).encode(), json_body=True)
        elif path == "/_arrivals":
            await respond(send, body=json.dumps(self.recorder.arrivals(wanted)).encode(), json_body=True)
        elif path == "/_stats":
            await respond(send, body=json.dumps(self.recorder.counters()).encode(), json_body=True)
        elif path == "/_latency":
            stats = self.recorder.paths.get(wanted, PathStats())
            await respond(send, body=json.dumps(stats.latency()).encode(), json_body=True)
        elif path == "/_reset" and post:
            self.recorder.reset()
            await respond(send, status=204)
        else:
            await respond(send, status=404)


def serve(host: str, port: int, slow_seconds: float) -> None:
    import uvicorn

    config = uvicorn.Config(
        App(Recorder(), slow_seconds),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_keep_alive=75,
    )
    print(f"fast receiver on http://{host}:{port}", flush=True)
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--slow-seconds", type=float, default=60.0, help="how long /slow* paths keep a request waiting"
    )
    args = parser.parse_args()
    serve(args.host, args.port, args.slow_seconds)


if __name__ == "__main__":
    main()
