"""boto3 for a sink driver: a bounded pool of its own threads (boto3 blocks), one shared
Session (a Session per client costs ≈ 9 MiB; Sessions are not thread-safe, so clients are
made under a lock, rarely: once per credential period), and the worker's own STS clients,
which assume the tenants' roles.

The AWS endpoint is the setting ES_AWS_ENDPOINT_URL (VPC endpoints, LocalStack, moto); when
it is unset, boto3's own standard variables apply as for any boto3 program
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), and so do its credential chain and settings
for the identity that calls STS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

from runtime.sinks.aws import AwsTarget
from services.delivery.sinks.aws import credentials

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

T = TypeVar("T")

SESSION_NAME_PREFIX = "TwilioEventStreams"


@dataclass(frozen=True)
class AwsOptions:
    endpoint_url: str | None = None  # None: boto3's standard variables decide
    timeout_seconds: float = 10.0
    threads: int = 8


def session_name(sink_sid: str) -> str:
    """RoleSessionName: names the sink in the customer's CloudTrail (≤ 64 characters)."""
    return f"{SESSION_NAME_PREFIX}-{sink_sid}"[:64]


class AwsClients:
    def __init__(self, options: AwsOptions, name: str) -> None:
        self.options = options
        self._pool = ThreadPoolExecutor(max_workers=options.threads, thread_name_prefix=name)
        self._config = Config(
            connect_timeout=min(5.0, options.timeout_seconds),
            read_timeout=options.timeout_seconds,
            # Our own retry policy decides (per event, with backoff); the SDK's would hide
            # the failures from it and hold a worker's call for their whole schedule.
            retries={"total_max_attempts": 1},
            max_pool_connections=options.threads,
            # The limits are ours to keep (each sink's LIMITS); botocore's own check of every
            # entry costs CPU on every call.
            parameter_validation=False,
        )
        self._sts: dict[str, STSClient] = {}
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

    def assume(self, service: str, config: AwsTarget, sink_sid: str) -> tuple[Any, datetime]:
        """A `service` client under the tenant's role (assumed with the sink's ExternalId),
        and when its credentials expire. Blocking: call through `run`. botocore's errors
        pass through for the caller to map."""
        answer = self.sts(config.region).assume_role(
            RoleArn=config.role_arn,
            RoleSessionName=session_name(sink_sid),
            ExternalId=config.external_id,
            DurationSeconds=credentials.SESSION_SECONDS,
        )
        granted = answer["Credentials"]
        client = self.client(
            service,
            config.region,
            aws_access_key_id=granted["AccessKeyId"],
            aws_secret_access_key=granted["SecretAccessKey"],
            aws_session_token=granted["SessionToken"],
        )
        return client, granted["Expiration"]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
