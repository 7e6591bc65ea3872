"""The Segment sink: Segment's HTTP Tracking API batch endpoint (`POST {api}/v1/batch`),
the write key as HTTP Basic (as Segment's own libraries send it), one batch per call.

Segment answers a batch as a whole (no per-message results): 200 delivered, 429 retried
and throttled, 5xx retried, another 4xx (a bad write key, a refused batch) a dead letter.
The API base URL is the setting ES_SEGMENT_API_URL (Segment's US endpoint by default; EU
workspaces set https://events.eu1.segmentapis.com)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import aiohttp

from runtime.sink_configs import SegmentConfig
from runtime.times import iso, utcnow
from services.delivery.errors import DeliveryError
from services.delivery.sinks import http
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.exchange import BODY_MESSAGES, Exchange, shown_header, shown_url
from services.delivery.sinks.segment import message

DEFAULT_API_URL = "https://api.segment.io"


class SegmentSink:
    limits: Limits = message.LIMITS

    def __init__(self, driver: SegmentDriver, config: SegmentConfig) -> None:
        self._driver = driver
        credentials = base64.b64encode(f"{config.write_key}:".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/json",
            "User-Agent": driver.user_agent,
        }
        # What the delivery log shows of every call (the write key hidden), made once.
        self._shown_url = shown_url(driver.batch_url)
        self._shown_headers = [(name, shown_header(name, value)) for name, value in self._headers.items()]

    def size(self, event: SinkEvent) -> int:
        return len(message.encode(event))

    async def prepare(self) -> None:
        return None

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        body = message.batch_body([message.encode(e) for e in events], iso(utcnow()))
        capture = Exchange(
            "POST", self._shown_url, self._shown_headers, BODY_MESSAGES, len(body), len(events)
        )
        try:
            status = await http.send(
                self._driver.session,
                "POST",
                self._driver.batch_url,
                body,
                self._headers,
                who="Segment",
                capture=capture,
            )
        except DeliveryError as exc:  # every event's outcome, as a raise would be; with the call
            return [Outcome(error=exc, status=exc.status, exchange=capture)] * len(events)
        return [Outcome(status=status, exchange=capture)] * len(events)

    async def close(self) -> None:
        return None


class SegmentDriver:
    sink_type = "segment"

    def __init__(
        self, api_url: str, timeout_seconds: float, user_agent: str, max_connections: int = 64
    ) -> None:
        self.batch_url = f"{(api_url or DEFAULT_API_URL).rstrip('/')}/v1/batch"
        self.user_agent = user_agent
        self.session = http.session(aiohttp.TCPConnector(limit=max_connections), timeout_seconds)

    def open(self, spec: SinkSpec) -> SegmentSink:
        assert isinstance(spec.config, SegmentConfig)
        return SegmentSink(self, spec.config)

    async def close(self) -> None:
        await self.session.close()
