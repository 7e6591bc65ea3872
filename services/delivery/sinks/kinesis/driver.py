"""The Amazon Kinesis sink: STS AssumeRole (with the sink's ExternalId) into the customer's
role, credentials cached until shortly before they expire, PutRecords of up to 500 records,
one outcome per record.

boto3 in a bounded pool of its own threads rather than aiobotocore, by measurement
(`python -m devkit.bench_kinesis_clients`, figures in the README): on 500-record calls both
top out alike (≈ 35–39k records/s against a 20 ms stub, moto-bound against moto: both spend
≈ 13–15 ms of CPU per call in the same botocore code), but aiobotocore does that work on the
event loop — its p99 loop lag was 2–4× worse — and pins botocore to a narrow range that holds
boto3 back. 8 threads: 4 cap small calls at ≈ 160/s over a 20 ms round trip, 16 double the
worst loop lag on big batches. boto3 clients are thread-safe; each sink keeps one client per
credential period. The pool, the clients, the AssumeRole and the endpoint are the AWS sinks'
shared ones (`services/delivery/sinks/aws/clients.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.session

from runtime.sink_configs import KinesisConfig
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.aws.clients import AwsClients, AwsOptions, session_name
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.kinesis import records
from services.delivery.sinks.kinesis.errors import Phase, StreamUnresolvable, mapped

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

log = logging.getLogger(__name__)
T = TypeVar("T")

# The AWS sinks' options, under the name the Kinesis sink has always had for them.
KinesisOptions = AwsOptions
__all__ = ["KinesisDriver", "KinesisOptions", "KinesisSink", "session_name"]


@functools.lru_cache(maxsize=64)
def known_region(region: str, partition: str) -> bool:
    regions = botocore.session.get_session().get_available_regions("kinesis", partition)
    return region in regions


class KinesisSink:
    limits: Limits = records.LIMITS

    def __init__(self, driver: KinesisDriver, spec: SinkSpec, config: KinesisConfig) -> None:
        self._driver = driver
        self._sid = spec.sid
        self._config = config
        self._client: KinesisClient | None = None
        self._expires: datetime | None = None
        self._stream_seen = False
        self._lock = asyncio.Lock()

    def size(self, event: SinkEvent) -> int:
        return records.size(event)

    async def prepare(self) -> None:
        if not credentials.due(self._expires, datetime.now(UTC)) and self._stream_seen:
            return
        async with self._lock:  # one AssumeRole per sink, however many calls wait for it
            if credentials.due(self._expires, datetime.now(UTC)):
                self._client, self._expires = await self._driver.run(self._assume_role)
            if not self._stream_seen:
                await self._driver.run(self._describe)
                self._stream_seen = True

    def _assume_role(self) -> tuple[KinesisClient, datetime]:
        config = self._config
        if self._driver.options.endpoint_url is None and not known_region(config.region, config.partition):
            raise StreamUnresolvable(f"the stream's region {config.region} is not a Kinesis region")
        with mapped(Phase.ASSUME_ROLE):
            client, expires = self._driver.aws.assume("kinesis", config, self._sid)
        return client, expires

    def _describe(self) -> None:
        assert self._client is not None
        with mapped(Phase.DESCRIBE):
            self._client.describe_stream_summary(StreamARN=self._config.arn)

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        answer = await self._driver.run(self._put, events)
        return records.outcomes(answer, len(events), records.call_of(self._config.arn, events, answer))

    def _put(self, events: Sequence[SinkEvent]) -> dict[str, Any]:
        assert self._client is not None
        with mapped(Phase.PUT):
            answer = self._client.put_records(
                StreamARN=self._config.arn,
                Records=records.entries(events),  # type: ignore[arg-type]
            )
        return dict(answer)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._driver.run(client.close)


class KinesisDriver:
    sink_type = "kinesis"

    def __init__(self, options: KinesisOptions) -> None:
        self.options = options
        self.aws = AwsClients(options, "kinesis")

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        return await self.aws.run(call, *args)

    def open(self, spec: SinkSpec) -> KinesisSink:
        assert isinstance(spec.config, KinesisConfig)
        return KinesisSink(self, spec, spec.config)

    async def close(self) -> None:
        self.aws.close()
