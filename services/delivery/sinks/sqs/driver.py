"""The Amazon SQS sink: the tenant's role assumed with the sink's ExternalId (renewed before
its credentials expire), the queue's URL looked up once (GetQueueUrl, by name and owner
account), then SendMessageBatch of up to 10 messages, one outcome per message.

boto3 on the AWS sinks' shared pool of threads (aws/clients.py): the reasons are Kinesis's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.sinks.sqs import SqsConfig
from services.delivery.sinks.aws.clients import AwsClients, AwsOptions
from services.delivery.sinks.aws.errors import mapped
from services.delivery.sinks.aws.role import AssumedClient
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.sqs import messages


class SqsSink:
    limits: Limits = messages.LIMITS

    def __init__(self, aws: AwsClients, spec: SinkSpec, config: SqsConfig) -> None:
        self._aws = aws
        self._config = config
        self._client = AssumedClient(aws, "sqs", config, spec.sid)
        self._queue_url = ""

    def size(self, event: SinkEvent) -> int:
        return messages.size(event)

    async def prepare(self) -> None:
        client = await self._client.get()
        if not self._queue_url:
            self._queue_url = await self._aws.run(self._lookup, client)

    def _lookup(self, client: Any) -> str:
        with mapped("GetQueueUrl"):
            answer = client.get_queue_url(
                QueueName=self._config.queue_name, QueueOwnerAWSAccountId=self._config.account.zfill(12)
            )
        return str(answer["QueueUrl"])

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        client = await self._client.get()
        answer = await self._aws.run(self._send, client, events)
        return messages.outcomes(answer, len(events))

    def _send(self, client: Any, events: Sequence[SinkEvent]) -> dict[str, Any]:
        with mapped("SendMessageBatch"):
            answer = client.send_message_batch(
                QueueUrl=self._queue_url, Entries=messages.entries(events, self._config.fifo)
            )
        return dict(answer)

    async def close(self) -> None:
        await self._client.close()


class SqsDriver:
    sink_type = "sqs"

    def __init__(self, options: AwsOptions) -> None:
        self.options = options
        self.aws = AwsClients(options, "sqs")

    def open(self, spec: SinkSpec) -> SqsSink:
        assert isinstance(spec.config, SqsConfig)
        return SqsSink(self.aws, spec, spec.config)

    async def close(self) -> None:
        self.aws.close()
