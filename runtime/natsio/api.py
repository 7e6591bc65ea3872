"""JetStream's API spoken raw, for what nats-py's JetStreamContext does not say: a stream's
placement and first stored time, a leader step-down towards a preferred server, consumers
with priority groups. Each request is JSON to `$JS.API.<endpoint>`; the answer is JSON, an
`error` member when refused."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client

PREFIX = "$JS.API."


async def call(nc: Client, endpoint: str, body: object = None, timeout: float = 5.0) -> dict[str, Any]:
    """JetStream's answer to one request (`endpoint`: e.g. `STREAM.INFO.EVENTS`; `body`: made
    JSON, nothing sent when None)."""
    payload = b"" if body is None else json.dumps(body).encode()
    reply = await nc.request(PREFIX + endpoint, payload, timeout=timeout)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def stream_info(nc: Client, stream: str, timeout: float = 5.0) -> dict[str, Any]:
    """A stream's info as the server says it (its `cluster` placement, its `state` with
    `first_ts`, which nats-py's StreamInfo leaves out)."""
    return await call(nc, f"STREAM.INFO.{stream}", timeout=timeout)


async def leader_stepdown(nc: Client, stream: str, preferred: str, timeout: float = 5.0) -> dict[str, Any]:
    """Ask a stream's leader to step down in favour of `preferred` (JetStream ≥ 2.11)."""
    return await call(
        nc, f"STREAM.LEADER.STEPDOWN.{stream}", {"placement": {"preferred": preferred}}, timeout
    )


async def create_consumer(
    nc: Client, stream: str, name: str, request: dict[str, object], timeout: float = 10.0
) -> str | None:
    """Make or update a durable consumer (`request`: the API's body, for what nats-py's
    ConsumerConfig lacks: priority groups). None when done, else JetStream's error."""
    answer = await call(nc, f"CONSUMER.CREATE.{stream}.{name}", request, timeout)
    return str(answer["error"]) if "error" in answer else None
