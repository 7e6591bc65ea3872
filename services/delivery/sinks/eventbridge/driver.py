"""The Amazon EventBridge sink: the tenant's role assumed with the sink's ExternalId (renewed
before its credentials expire), then PutEvents of up to 10 entries onto the bus, one outcome
per entry. boto3 on the AWS sinks' shared pool of threads (aws/clients.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.sinks.eventbridge import EventBridgeConfig
from services.delivery.sinks.aws.clients import AwsClients, AwsOptions
from services.delivery.sinks.aws.errors import mapped
from services.delivery.sinks.aws.role import AssumedClient
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.eventbridge import entries


class EventBridgeSink:
    limits: Limits = entries.LIMITS

    def __init__(self, aws: AwsClients, spec: SinkSpec, config: EventBridgeConfig) -> None:
        self._aws = aws
        self._config = config
        self._client = AssumedClient(aws, "events", config, spec.sid)

    def size(self, event: SinkEvent) -> int:
        return entries.size(event)

    async def prepare(self) -> None:
        await self._client.get()

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        client = await self._client.get()
        answer = await self._aws.run(self._put, client, events)
        return entries.outcomes(answer, len(events))

    def _put(self, client: Any, events: Sequence[SinkEvent]) -> dict[str, Any]:
        with mapped("PutEvents"):
            answer = client.put_events(Entries=entries.entries(events, self._config.arn))
        return dict(answer)

    async def close(self) -> None:
        await self._client.close()


class EventBridgeDriver:
    sink_type = "eventbridge"

    def __init__(self, options: AwsOptions) -> None:
        self.options = options
        self.aws = AwsClients(options, "eventbridge")

    def open(self, spec: SinkSpec) -> EventBridgeSink:
        assert isinstance(spec.config, EventBridgeConfig)
        return EventBridgeSink(self.aws, spec, spec.config)

    async def close(self) -> None:
        self.aws.close()
