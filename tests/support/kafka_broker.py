"""A real Apache Kafka broker for the Kafka sink's tests: Kafka's own jars from Maven Central
(tests/support/kafka/pom.xml; `make test` copies them into .cache/kafka/libs with
`mvn dependency:copy-dependencies`), run with the machine's Java in KRaft mode — one process
both broker and controller, its storage formatted first as `kafka-storage format` does.

Clients reach it through `advertised_port`: pass a port a fault proxy listens on and every
connection a client makes (bootstrap and the broker's own address alike) goes through it.
A second listener (`bootstrap_direct`) is the tests' own way in, past any proxy: to make and
read topics while the proxy is making faults."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from launcher.processes import ROOT, Child, free_port, start, wait_until

LIBS = ROOT / ".cache" / "kafka" / "libs"
# The JVM's heap: the tests' traffic is small; the default (a quarter of RAM) is not.
HEAP = "-Xmx384m"


def installed() -> bool:
    return shutil.which("java") is not None and LIBS.is_dir() and any(LIBS.glob("kafka_2.13-*.jar"))


@dataclass
class KafkaBroker:
    directory: Path
    port: int
    controller_port: int
    advertised_port: int
    direct_port: int
    child: Child | None = None

    @classmethod
    def create(cls, directory: Path, advertised_port: int = 0) -> KafkaBroker:
        port = free_port()
        return cls(directory, port, free_port(), advertised_port or port, free_port())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    @property
    def bootstrap_direct(self) -> str:
        return f"127.0.0.1:{self.direct_port}"

    def start(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        properties = d / "server.properties"
        properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},DIRECT://127.0.0.1:{self.direct_port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.advertised_port},"
                    f"DIRECT://127.0.0.1:{self.direct_port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,DIRECT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={d / 'data'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        classpath = f"{LIBS}/*"
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(properties),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        argv = ["java", HEAP, "-cp", classpath, "kafka.Kafka", str(properties)]
        self.child = start("kafka", argv, {"PATH": "/usr/bin:/bin"}, d / "logs")
        wait_until(self._listening, self.child, "kafka", timeout=90)

    def _listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=30)


async def create_topic(bootstrap_servers: str, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def delete_topic(bootstrap_servers: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def partitions(bootstrap_servers: str, topic: str) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        return sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def records(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of every partition of `topic`, from the beginning: partition by partition,
    each in offset order (the Kafka client a customer reads with)."""
    assigned = [TopicPartition(topic, p) for p in await partitions(bootstrap_servers, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: dict[int, list[ConsumerRecord[bytes, bytes]]] = {p.partition: [] for p in assigned}
        while [p for p in assigned if await consumer.position(p) < ends[p]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for partition, got in batch.items():
                found[partition.partition] += got
        return [record for p in sorted(found) for record in found[p]]
    finally:
        await consumer.stop()


async def set_max_message_bytes(bootstrap_servers: str, topic: str, value: int | None) -> None:
    """The topic's max.message.bytes (None: the broker's default again)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        configs = {"max.message.bytes": str(value)} if value is not None else {"max.message.bytes": "1048588"}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    finally:
        await admin.close()
