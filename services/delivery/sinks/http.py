"""What the HTTP sinks (webhook, Segment) share: reading a response safely, classifying its
status, and mapping their clients' exceptions (aiohttp's for Segment, http1's for webhooks)
to the delivery error taxonomy — in one place."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from yarl import URL

from services.delivery.errors import (
    ConnectFailed,
    DeliveryError,
    DestinationRefused,
    Rejected,
    ServerError,
    Throttled,
    TimedOut,
)
from services.delivery.sinks import http1
from services.delivery.sinks.exchange import MAX_RESPONSE_BODY, Exchange

# A receiver's answer matters only by its status; of its body we read at most this much, raw
# (no automatic decompression): a tenant's receiver must not be able to grow a worker.
MAX_RESPONSE_BYTES = 4096


def session(connector: aiohttp.BaseConnector, timeout_seconds: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        auto_decompress=False,
    )


async def read_prefix(response: aiohttp.ClientResponse, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """Up to `limit` bytes of the body. A longer body is not read on: the connection is
    dropped instead (a small body is read to its end, so its connection is reused)."""
    chunks: list[bytes] = []
    got = 0
    while got < limit:
        chunk = await response.content.read(limit - got)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        got += len(chunk)
    if not response.content.at_eof():
        response.close()
    return b"".join(chunks)


def classify(status: int, retry_after: str | None = None, who: str = "receiver") -> DeliveryError | None:
    """None for a delivered event (any 2xx), else the error the response stands for."""
    if 200 <= status < 300:
        return None
    after = parse_retry_after(retry_after)
    if status == 429:
        return Throttled(f"{who} throttled (HTTP {status})", status=status, retry_after=after)
    if 400 <= status < 500:
        return Rejected(f"{who} rejected the event (HTTP {status})", status=status)
    if status >= 500:
        return ServerError(f"{who} failed (HTTP {status})", status=status, retry_after=after)
    # 1xx/3xx: a redirect is not followed (the signature names the configured URL).
    return Rejected(f"unexpected HTTP {status}", status=status)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    body: bytes | None,
    headers: dict[str, str],
    auth: aiohttp.BasicAuth | None = None,
    who: str = "receiver",
    capture: Exchange | None = None,
) -> int:
    """One request, redirects not followed, at most a prefix of the answer read: its status
    when 2xx, else the classified DeliveryError raised. `capture`, when given, gets the
    response (before a failure it stands for is raised)."""
    with map_exceptions():
        async with session.request(
            method, url, data=body, headers=headers, auth=auth, allow_redirects=False
        ) as response:
            prefix = await read_prefix(response)
            if capture is not None:
                capture.status = response.status
                capture.response_headers = list(response.raw_headers[: http1.MAX_HEADERS])
                capture.response_body = prefix[:MAX_RESPONSE_BODY]
            failure = classify(response.status, response.headers.get("Retry-After"), who)
    if failure is not None:
        raise failure
    return response.status


async def exchange(
    client: http1.Http1Client,
    method: str,
    target: http1.Target,
    headers: str,
    body: bytes | None,
    who: str = "receiver",
    capture: Exchange | None = None,
) -> int:
    """`send` over the webhook client (services/delivery/sinks/http1.py). `capture`, when
    given, gets the response (before a failure it stands for is raised)."""
    try:
        response = await client.request(method, target, headers, body)
    except DeliveryError:
        raise
    except TimeoutError as exc:
        raise TimedOut("no response within the timeout") from exc
    except http1.ConnectError as exc:
        raise ConnectFailed(str(exc)) from exc
    except http1.HttpError as exc:
        raise ConnectFailed(f"request failed: {exc}") from exc
    if capture is not None:
        capture.status = response.status
        capture.response_headers = response.headers
        capture.response_body = response.body[:MAX_RESPONSE_BODY]
    failure = classify(response.status, response.retry_after, who)
    if failure is not None:
        raise failure
    return response.status


@contextlib.contextmanager
def map_exceptions() -> Iterator[None]:
    """aiohttp's failures as delivery errors: a timeout, a refused or failed connection."""
    try:
        yield
    except DeliveryError:
        raise
    except TimeoutError as exc:
        raise TimedOut("no response within the timeout") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectFailed(f"cannot connect: {exc}") from exc
    except aiohttp.InvalidURL as exc:
        # Not a URL the client can use (some versions say so of legacy numeric hosts): no
        # retry makes it one.
        raise DestinationRefused(f"destination is not a usable URL: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise ConnectFailed(f"request failed: {exc}") from exc
