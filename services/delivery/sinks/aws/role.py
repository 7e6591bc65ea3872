"""One sink's client of an AWS service under its tenant's role: assumed with the sink's
ExternalId on first use and again shortly before the credentials expire, once per sink
however many calls wait for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from runtime.sinks.aws import AwsTarget
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.aws.clients import AwsClients
from services.delivery.sinks.aws.errors import mapped


class AssumedClient:
    def __init__(self, aws: AwsClients, service: str, config: AwsTarget, sink_sid: str) -> None:
        self._aws = aws
        self._service = service
        self._config = config
        self._sid = sink_sid
        self._client: Any = None
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()

    @property
    def fresh(self) -> bool:
        return self._client is not None and not credentials.due(self._expires, datetime.now(UTC))

    async def get(self) -> Any:
        """The client, its role assumed anew when due. Raises a DeliveryError when it cannot."""
        if self.fresh:
            return self._client
        async with self._lock:
            if not self.fresh:
                old = self._client
                self._client, self._expires = await self._aws.run(self._assume)
                if old is not None:
                    await self._aws.run(old.close)
            return self._client

    def _assume(self) -> tuple[Any, datetime]:
        with mapped("AssumeRole", assuming=True):
            return self._aws.assume(self._service, self._config, self._sid)

    def expire(self) -> None:
        """Forget the credentials: the next call assumes the role again."""
        self._expires = None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._aws.run(client.close)
