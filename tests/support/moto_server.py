"""A real `moto_server` (from PyPI's moto[server]): Kinesis, STS and IAM over HTTP, on loopback.

Plus plain-boto3 helpers for tests and benches: make a stream, make a role that Twilio-style
AssumeRole (with an ExternalId) may assume, and read a stream back from TRIM_HORIZON.

The server is moto_server with one fix: a Kinesis shard's writes and reads under a lock.
moto 5's `Shard.put_record` takes the next sequence number as the shard's highest + 1 and
then stores the record under it ("not safe for concurrency", its own comment says), and the
server answers each request on a thread of its own: two concurrent PutRecords calls can give
two records one sequence number, the second overwriting the first, while both callers were
told their record was written (4 callers of PutRecords ×500 lost 74–116 of 20,000 records).
A sink with several calls in flight would seem to lose events that moto dropped. moto is one
process under one GIL, so serialising whole calls costs little (≈ 10 %).

moto keeps all state in the server process; `reset()` wipes it. It checks no credentials by
default (a wrong ExternalId succeeds): start it with `env={"INITIAL_NO_AUTH_ACTION_COUNT": "N"}`
to have IAM enforced after N calls. Its PutRecords slows as a shard fills (each record lists
every stored sequence number): reset, or use fresh streams, between heavy runs.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

from launcher.processes import Child, free_port, python_env, start, wait_until

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sts import STSClient

# moto's default account; every stream and role it makes lives in it.
ACCOUNT_ID = "123456789012"
# Any non-empty pair will do: moto only parses the Authorization header (unless IAM is enforced).
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"
DEFAULT_REGION = "us-east-1"


@dataclass
class MotoServer:
    port: int
    log_dir: Path | None
    env: dict[str, str] = field(default_factory=dict)
    child: Child | None = None

    @classmethod
    def create(cls, log_dir: Path | None, port: int = 0, env: dict[str, str] | None = None) -> MotoServer:
        return cls(port or free_port(), log_dir, dict(env or {}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # This module as the server: moto_server with each Kinesis call serialised (below).
        argv = [sys.executable, "-m", "tests.support.moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.child = start("moto-server", argv, python_env(self.env), self.log_dir)
        wait_until(self._ready, self.child, "moto_server", timeout=30)

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1) as response:
            return bool(response.status == 200)

    def reset(self) -> None:
        """Forget every stream, role and record."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"moto reset answered {response.status}")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def kill(self) -> None:
        if self.child is not None:
            self.child.kill()


def region_of(arn: str) -> str:
    """The region field of an ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        raise ValueError(f"not a regional ARN: {arn!r}")
    return parts[3]


_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def _client(service: str, url: str, region: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=_CONFIG,
    )


def kinesis_client(url: str, region: str = DEFAULT_REGION) -> KinesisClient:
    client: KinesisClient = _client("kinesis", url, region)
    return client


def iam_client(url: str) -> IAMClient:
    client: IAMClient = _client("iam", url, DEFAULT_REGION)
    return client


def sts_client(url: str, region: str = DEFAULT_REGION) -> STSClient:
    client: STSClient = _client("sts", url, region)
    return client


def create_stream(url: str, name: str, shards: int = 1, region: str = DEFAULT_REGION) -> str:
    """Create a provisioned stream, wait until it is ACTIVE, and return its ARN."""
    client = kinesis_client(url, region)
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 30
    while True:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary["StreamARN"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {name} still {summary['StreamStatus']} after 30s")
        time.sleep(0.05)


SINK_ACTIONS = [
    "kinesis:PutRecords",
    "kinesis:PutRecord",
    "kinesis:ListShards",
    "kinesis:DescribeStreamSummary",
]


def create_role(
    url: str,
    external_id: str,
    name: str | None = None,
    principal: str = "*",
) -> str:
    """An IAM role that `principal` may assume only with `external_id`, allowed to write to any
    stream (moto checks role permissions by action only, so the resource is "*"). Returns its ARN.

    With IAM enforced, moto matches the trust policy's principal literally: "*" or the caller's
    own user ARN work, the account root (`arn:aws:iam::ACCOUNT:root`) does not; the caller also
    needs an identity policy allowing sts:AssumeRole. moto lets an AssumeRole without any
    ExternalId through (only a wrong one is refused), so it cannot catch a missing one."""
    role_name = name or f"eventstreams-kinesis-{time.monotonic_ns():x}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    permissions = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": SINK_ACTIONS, "Resource": "*"}],
    }
    client = iam_client(url)
    role = client.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    client.put_role_policy(
        RoleName=role_name, PolicyName="kinesis-put", PolicyDocument=json.dumps(permissions)
    )
    return role["Arn"]


def read_records(url: str, stream_arn: str) -> list[tuple[str, bytes]]:
    """Every record of every shard, from TRIM_HORIZON, as (partition key, data): shard by shard
    in shard-id order, each shard's records in sequence order."""
    client = kinesis_client(url, region_of(stream_arn))
    shard_ids: list[str] = []
    token: str | None = None
    while True:
        page = client.list_shards(NextToken=token) if token else client.list_shards(StreamARN=stream_arn)
        shard_ids.extend(shard["ShardId"] for shard in page.get("Shards", []))
        token = page.get("NextToken")
        if not token:
            break
    found: list[tuple[str, bytes]] = []
    for shard_id in sorted(shard_ids):
        iterator: str | None = client.get_shard_iterator(
            StreamARN=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            batch = client.get_records(StreamARN=stream_arn, ShardIterator=iterator, Limit=10_000)
            records = batch.get("Records", [])
            found.extend((record["PartitionKey"], record["Data"]) for record in records)
            if not records and batch.get("MillisBehindLatest", 0) == 0:
                break
            iterator = batch.get("NextShardIterator")
    return found


_LOCK = threading.RLock()
T = TypeVar("T")


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def inner(*args: Any, **kwargs: Any) -> T:
        with _LOCK:
            return method(*args, **kwargs)

    return inner


def patch() -> None:
    from moto.kinesis import models

    # Whole calls, not each record: one lock hand-over per PutRecords, not 500.
    for name in ("put_record", "put_records", "get_records"):
        setattr(models.KinesisBackend, name, _locked(getattr(models.KinesisBackend, name)))


def main() -> None:
    patch()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
