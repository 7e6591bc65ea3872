"""The Amazon SNS sink: the tenant's role assumed with the sink's ExternalId (renewed before
its credentials expire), then PublishBatch of up to 10 messages to the topic, one outcome per
message. boto3 on the AWS sinks' shared pool of threads (aws/clients.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.sinks.sns import SnsConfig
from services.delivery.sinks.aws.clients import AwsClients, AwsOptions
from services.delivery.sinks.aws.errors import mapped
from services.delivery.sinks.aws.role import AssumedClient
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.sns import messages


class SnsSink:
    limits: Limits = messages.LIMITS

    def __init__(self, aws: AwsClients, spec: SinkSpec, config: SnsConfig) -> None:
        self._aws = aws
        self._config = config
        self._client = AssumedClient(aws, "sns", config, spec.sid)

    def size(self, event: SinkEvent) -> int:
        return messages.size(event)

    async def prepare(self) -> None:
        await self._client.get()

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        client = await self._client.get()
        answer = await self._aws.run(self._publish, client, events)
        return messages.outcomes(answer, len(events))

    def _publish(self, client: Any, events: Sequence[SinkEvent]) -> dict[str, Any]:
        with mapped("PublishBatch"):
            answer = client.publish_batch(
                TopicArn=self._config.arn,
                PublishBatchRequestEntries=messages.entries(events, self._config.fifo),
            )
        return dict(answer)

    async def close(self) -> None:
        await self._client.close()


class SnsDriver:
    sink_type = "sns"

    def __init__(self, options: AwsOptions) -> None:
        self.options = options
        self.aws = AwsClients(options, "sns")

    def open(self, spec: SinkSpec) -> SnsSink:
        assert isinstance(spec.config, SnsConfig)
        return SnsSink(self.aws, spec, spec.config)

    async def close(self) -> None:
        self.aws.close()
