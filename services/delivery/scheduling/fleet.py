"""The workers' shared view of throttled sinks, so that a sink's cap is the fleet's.

Twilio's throttle is per sink (100 events/s on a 429/5xx, 99 % of itself on each further
one). Workers share one consumer, so a throttled sink's events spread over all of them; a
cap kept by each worker alone would add up (4 workers, 400 events/s). So each worker
announces, on a core NATS subject of the fleet, the sinks it holds throttled — the cap and
the time of the error that set it — once a period and at once when that changes. From what
the others announce a worker takes (`Peers`):

- the newest cap any worker set for a sink (a 429 met by one worker throttles the sink on
  all of them: `throttle.adopt`), and
- its share of the cap: 1 / the workers holding the sink throttled, itself included.

An announcement not renewed within `expiry` is a worker gone; its share goes back to the
others. Only throttled sinks are announced and only throttled lanes ask for their share:
the healthy path pays nothing per event, and the whole fleet's traffic is one small message
per worker per period.

Why shares and not a shared token bucket (a JetStream KV key per sink, compare-and-set per
lease of tokens): the bucket is exact under any spread, but costs a round trip to the KV
leader per lease and a write quorum on every one (at 100 events/s and leases of 10, ten
replicated writes a second per throttled sink, more as the cap is cut and leases shrink),
and it stalls a sink's calls while the leader moves. Shares cost nothing per call. Their
one inexactness: a worker given fewer of a sink's events than its share leaves part of the
cap unused — the fleet then delivers under the cap, never over it; the shared consumer
hands events out evenly, and a throttled lane hands back what it cannot send soon (held
back), so the others, at their shares, take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from services.delivery.scheduling.throttle import Throttle

log = logging.getLogger(__name__)

Cap = tuple[float, float]  # events/s, and the time (clock) of the 429/5xx that set it


class FleetView(Protocol):
    """What a dispatcher asks of the fleet (only for throttled sinks) and tells it."""

    @property
    def version(self) -> int:
        """Changes whenever what the others announce does."""

    def share(self, sink_sid: str) -> float:
        """This worker's part of the sink's cap."""

    def newest(self, sink_sid: str) -> Cap | None:
        """The newest cap another worker holds for the sink (None: none holds it throttled)."""

    def report(self, sink_sid: str, limiter: Throttle) -> None:
        """The sink's throttle on this worker changed (uncapped: no longer throttled)."""


class Alone:
    """A worker on its own: the whole cap is its."""

    version = 0

    def share(self, sink_sid: str) -> float:
        return 1.0

    def newest(self, sink_sid: str) -> Cap | None:
        return None

    def report(self, sink_sid: str, limiter: Throttle) -> None:
        return None


@dataclass(frozen=True)
class Announcement:
    worker: str
    throttled: Mapping[str, Cap]

    def encode(self) -> bytes:
        return json.dumps({"worker": self.worker, "throttled": self.throttled}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Announcement:
        body = json.loads(data)
        throttled = {str(sid): (float(cap), float(at)) for sid, (cap, at) in body["throttled"].items()}
        return cls(str(body["worker"]), throttled)


@dataclass
class Peers:
    """What the other workers last announced, and what follows from it. No I/O."""

    me: str
    expiry: float
    heard: dict[str, tuple[float, Announcement]] = field(default_factory=dict)  # worker → (when, what)
    holders: dict[str, int] = field(default_factory=dict)  # sink → other workers holding it throttled
    newest: dict[str, Cap] = field(default_factory=dict)  # sink → newest cap among them
    version: int = 0

    def hear(self, announcement: Announcement, now: float) -> None:
        if announcement.worker == self.me:
            return
        before = self.heard.get(announcement.worker)
        self.heard[announcement.worker] = (now, announcement)
        if before is None or before[1].throttled != announcement.throttled:
            self._derive()

    def expire(self, now: float) -> None:
        gone = [worker for worker, (at, _) in self.heard.items() if now - at > self.expiry]
        for worker in gone:
            del self.heard[worker]
        if gone:
            self._derive()

    def share(self, sink_sid: str) -> float:
        return 1.0 / (1 + self.holders.get(sink_sid, 0))

    def _derive(self) -> None:
        holders: dict[str, int] = {}
        newest: dict[str, Cap] = {}
        for _, announcement in self.heard.values():
            for sid, cap in announcement.throttled.items():
                holders[sid] = holders.get(sid, 0) + 1
                if sid not in newest or cap[1] > newest[sid][1]:
                    newest[sid] = cap
        if holders != self.holders or newest != self.newest:
            self.holders, self.newest = holders, newest
            self.version += 1


class Fleet:
    """This worker's announcements and what it hears of the others (core NATS, no storage:
    a restarted fleet relearns its throttles from the sinks' next 429s)."""

    def __init__(self, nc: Client, subject: str, period: float = 1.0, worker: str | None = None) -> None:
        self._nc = nc
        self._subject = subject
        self._period = period
        self._mine: dict[str, Cap] = {}
        self._changed = asyncio.Event()
        self._peers = Peers(worker or uuid.uuid4().hex, expiry=3 * period)

    @property
    def version(self) -> int:
        return self._peers.version

    def share(self, sink_sid: str) -> float:
        return self._peers.share(sink_sid)

    def newest(self, sink_sid: str) -> Cap | None:
        return self._peers.newest.get(sink_sid)

    def report(self, sink_sid: str, limiter: Throttle) -> None:
        if limiter.cap is None:
            if self._mine.pop(sink_sid, None) is None:
                return
        else:
            self._mine[sink_sid] = (limiter.cap, limiter.last_error)
        self._changed.set()

    async def run(self) -> None:
        sub = await self._nc.subscribe(self._subject, cb=self._heard)
        try:
            while True:
                self._changed.clear()
                announcement = Announcement(self._peers.me, dict(self._mine))
                try:
                    await self._nc.publish(self._subject, announcement.encode())
                except NatsError as exc:
                    # A lost announcement is renewed next period; deliveries never wait on it.
                    log.warning("fleet: announcement not sent: %s", exc)
                self._peers.expire(time.monotonic())
                # A burst of 429s cuts the cap on each: announce the cuts together.
                await asyncio.sleep(self._period / 10)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self._period)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _heard(self, msg: Msg) -> None:
        try:
            announcement = Announcement.decode(msg.data)
        except (ValueError, KeyError, TypeError):
            log.warning("fleet: an unreadable announcement on %s", self._subject)
            return
        self._peers.hear(announcement, time.monotonic())
