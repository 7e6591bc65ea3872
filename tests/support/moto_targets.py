"""The AWS sinks' targets in a real moto server, made and read back with plain boto3: SQS
queues (standard and FIFO), SNS topics (read through an SQS queue subscribed to them),
EventBridge buses (read through a rule into an SQS queue) and S3 buckets."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.moto_server import DEFAULT_REGION, _client


def sqs(url: str, region: str = DEFAULT_REGION) -> Any:
    return _client("sqs", url, region)


def create_queue(url: str, fifo: bool = False, region: str = DEFAULT_REGION) -> str:
    """A fresh queue's ARN."""
    name = f"es-{time.monotonic_ns():x}" + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    client = sqs(url, region)
    queue_url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(arn)


def queue_url(url: str, arn: str) -> str:
    parts = arn.split(":")
    return str(
        sqs(url, parts[3]).get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    )


@dataclass
class QueueReader:
    """What arrived in a queue, kept: each read takes what is there (and deletes it) and
    returns everything read so far, in the order received."""

    url: str
    arn: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> list[dict[str, Any]]:
        client = sqs(self.url, self.arn.split(":")[3])
        address = queue_url(self.url, self.arn)
        while True:
            answer = client.receive_message(
                QueueUrl=address,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            got = answer.get("Messages", [])
            if not got:
                return self.messages
            self.messages.extend(got)
            client.delete_message_batch(
                QueueUrl=address,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.read()]


def events(url: str, region: str = DEFAULT_REGION) -> Any:
    return _client("events", url, region)


def create_bus(url: str, region: str = DEFAULT_REGION) -> tuple[str, str]:
    """A fresh event bus whose every event goes to a fresh queue: (bus ARN, queue ARN)."""
    name = f"es-{time.monotonic_ns():x}"
    client = events(url, region)
    bus = str(client.create_event_bus(Name=name)["EventBusArn"])
    queue = create_queue(url, region=region)
    pattern = {"account": [bus.split(":")[4]]}
    client.put_rule(Name=f"{name}-all", EventBusName=name, EventPattern=json.dumps(pattern))
    client.put_targets(Rule=f"{name}-all", EventBusName=name, Targets=[{"Id": "queue", "Arn": queue}])
    return bus, queue


@dataclass
class BusReader:
    """What arrived on a bus, read through the queue its rule sends every event to: the
    EventBridge events, whose `detail` is what the sink put."""

    queue: QueueReader

    def envelopes(self) -> list[dict[str, Any]]:
        return self.queue.bodies()

    def details(self) -> list[dict[str, Any]]:
        return [envelope["detail"] for envelope in self.envelopes()]


def create_topic(url: str, fifo: bool = False, region: str = DEFAULT_REGION) -> tuple[str, str]:
    """A fresh topic whose every message goes, raw, to a fresh queue (FIFO to FIFO):
    (topic ARN, queue ARN)."""
    name = f"es-{time.monotonic_ns():x}" + (".fifo" if fifo else "")
    client = _client("sns", url, region)
    attributes = {"FifoTopic": "true"} if fifo else {}
    topic = str(client.create_topic(Name=name, Attributes=attributes)["TopicArn"])
    queue = create_queue(url, fifo=fifo, region=region)
    client.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, queue


def s3(url: str, region: str = DEFAULT_REGION) -> Any:
    return _client("s3", url, region)


def create_bucket(url: str, region: str = DEFAULT_REGION) -> str:
    """A fresh bucket's ARN."""
    name = f"es-{time.monotonic_ns():x}"
    s3(url, region).create_bucket(Bucket=name)
    return f"arn:aws:s3:::{name}"


def archived(url: str, arn: str, prefix: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Every object in the bucket under `prefix`, in key order: (key, its lines as JSON)."""
    client = s3(url)
    bucket = arn.split(":::", 1)[1]
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    out = []
    for key in sorted(keys):
        text = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        out.append((key, [json.loads(line) for line in text.splitlines() if line]))
    return out
