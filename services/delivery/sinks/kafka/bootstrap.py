"""Why a producer could not bootstrap. aiokafka logs the reason it could not reach a
bootstrap server — a login refused, a certificate not trusted, a refused connection — and
raises a bare `KafkaConnectionError` ("Unable to bootstrap"), which alone reads as "try
again later". Asked only after that failure, one connection of our own to each server, with
the producer's settings, brings the reason back, so a wrong password is a refusal (a dead
letter) and the delivery log says what the broker said. The servers are asked at once: a
list of unreachable ones costs one connect timeout, not one each."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError


async def reason(servers: Sequence[tuple[str, int]], connection: dict[str, Any]) -> BaseException | None:
    """Of `servers` in their order, the first failure to connect that is more than an
    unreachable address (None when each connects, or none is reachable at all)."""
    failures = await asyncio.gather(*(_failure(host, port, connection) for host, port in servers))
    return next((failure for failure in failures if failure is not None), None)


async def _failure(host: str, port: int, connection: dict[str, Any]) -> BaseException | None:
    try:
        conn = await create_conn(host, port, **connection)
    except (KafkaConnectionError, ConnectionError, TimeoutError):
        return None  # not reachable: no more to say than aiokafka did
    except (KafkaError, OSError) as exc:  # a login refused, a certificate not trusted…
        return exc
    conn.close()
    return None
