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
credential period, all made from one shared Session (a Session per client costs ≈ 9 MiB).

The AWS endpoint is the setting ES_AWS_ENDPOINT_URL (VPC endpoints, LocalStack, moto); when
it is unset, boto3's own standard variables apply as for any boto3 program
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_STS), and so do its
credential chain and settings for the identity that calls STS.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config

from runtime.sink_configs import KinesisConfig
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.kinesis import credentials, records
from services.delivery.sinks.kinesis.errors import Phase, StreamUnresolvable, mapped

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sts import STSClient

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_NAME_PREFIX = "TwilioEventStreams"


@dataclass(frozen=True)
class KinesisOptions:
    endpoint_url: str | None = None  # None: boto3's standard variables decide
    timeout_seconds: float = 10.0
    threads: int = 8


def session_name(sink_sid: str) -> str:
    """RoleSessionName: names the sink in the customer's CloudTrail (≤ 64 characters)."""
    return f"{SESSION_NAME_PREFIX}-{sink_sid}"[:64]


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
        partition = config.arn.split(":", 2)[1]
        if self._driver.options.endpoint_url is None and not known_region(config.region, partition):
            raise StreamUnresolvable(f"the stream's region {config.region} is not a Kinesis region")
        sts = self._driver.sts(config.region)
        with mapped(Phase.ASSUME_ROLE):
            answer = sts.assume_role(
                RoleArn=config.role_arn,
                RoleSessionName=session_name(self._sid),
                ExternalId=config.external_id,
                DurationSeconds=credentials.SESSION_SECONDS,
            )
        granted = answer["Credentials"]
        client = self._driver.client(
            "kinesis",
            config.region,
            aws_access_key_id=granted["AccessKeyId"],
            aws_secret_access_key=granted["SecretAccessKey"],
            aws_session_token=granted["SessionToken"],
        )
        return client, granted["Expiration"]

    def _describe(self) -> None:
        assert self._client is not None
        with mapped(Phase.DESCRIBE):
            self._client.describe_stream_summary(StreamARN=self._config.arn)

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        answer = await self._driver.run(self._put, events)
        return records.outcomes(answer, len(events))

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
        self._pool = ThreadPoolExecutor(max_workers=options.threads, thread_name_prefix="kinesis")
        self._config = Config(
            connect_timeout=min(5.0, options.timeout_seconds),
            read_timeout=options.timeout_seconds,
            # Our own retry policy decides (per record, with backoff); the SDK's would hide
            # the failures from it and hold a worker's call for their whole schedule.
            retries={"total_max_attempts": 1},
            max_pool_connections=options.threads,
            # The limits are ours to keep (records.LIMITS); botocore's own check of every
            # record costs ≈ 20 % of a 500-record call's CPU.
            parameter_validation=False,
        )
        self._sts: dict[str, STSClient] = {}
        # One Session for every client (its loaders and models are shared); Sessions are not
        # thread-safe, so clients are made under a lock (rarely: once per credential period).
        self._session = boto3.session.Session()
        self._session_lock = threading.Lock()

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    def client(self, service: str, region: str, **credentials_: str) -> Any:
        with self._session_lock:
            return self._session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.options.endpoint_url,
                config=self._config,
                **credentials_,
            )

    def sts(self, region: str) -> STSClient:
        """The worker's own identity (boto3's credential chain), which assumes customers' roles."""
        found = self._sts.get(region)
        if found is None:
            found = self._sts.setdefault(region, self.client("sts", region))
        return found

    def open(self, spec: SinkSpec) -> KinesisSink:
        assert isinstance(spec.config, KinesisConfig)
        return KinesisSink(self, spec, spec.config)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
