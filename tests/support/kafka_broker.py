"""A real Apache Kafka broker for the Kafka sink's tests: Kafka's own jars from Maven Central
(tests/support/kafka/pom.xml; `make test` copies them into .cache/kafka/libs with
`mvn dependency:copy-dependencies`), run with the machine's Java in KRaft mode — one process
both broker and controller, its storage formatted first as `kafka-storage format` does.

Clients reach it through `advertised_port`: pass a port a fault proxy listens on and every
connection a client makes (bootstrap and the broker's own address alike) goes through it.
A second listener (`bootstrap_direct`) is the tests' own way in, past any proxy: to make and
read topics while the proxy is making faults. Four more are secured as hosted Kafkas are
(`secured`): SASL over TLS, SASL in the clear, TLS alone and mutual TLS. The SASL ones take
PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for `USER` (its SCRAM credentials written when the
storage is formatted); TLS presents a self-signed certificate for 127.0.0.1
(`Secured.certificate`, to trust), and the mutual-TLS listener asks for the client
certificate `Secured.client_certificate`."""

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
from tests.support.certificates import self_signed

LIBS = ROOT / ".cache" / "kafka" / "libs"
# The JVM's heap: the tests' traffic is small; the default (a quarter of RAM) is not.
HEAP = "-Xmx384m"
USER = ("alice", "alice-secret")
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")
LOGIN_MODULES = {
    "plain": f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER[0]}="{USER[1]}";',
    **{m.lower(): "org.apache.kafka.common.security.scram.ScramLoginModule required;" for m in SCRAM},
}


def installed() -> bool:
    return shutil.which("java") is not None and LIBS.is_dir() and any(LIBS.glob("kafka_2.13-*.jar"))


def scram_credentials() -> list[str]:
    """`kafka-storage format`'s arguments that give USER its SCRAM credentials (KRaft keeps
    them in the metadata log: there is no ZooKeeper to write them to)."""
    return [arg for m in SCRAM for arg in ("--add-scram", f"{m}=[name={USER[0]},password={USER[1]}]")]


@dataclass(frozen=True)
class Secured:
    """The secured listeners' ports (127.0.0.1) and the certificate their TLS presents."""

    sasl_ssl_port: int
    sasl_port: int
    ssl_port: int
    mtls_port: int
    certificate: Path
    key: Path
    client_certificate: Path  # the one the mutual-TLS listener trusts, and its key
    client_key: Path

    def listeners(self) -> dict[str, tuple[str, int]]:
        """Each listener's name: (its security protocol, its port)."""
        return {
            "SASLSSL": ("SASL_SSL", self.sasl_ssl_port),
            "SASLPLAIN": ("SASL_PLAINTEXT", self.sasl_port),
            "TLS": ("SSL", self.ssl_port),
            "MTLS": ("SSL", self.mtls_port),
        }

    def properties(self, keystore: Path) -> list[str]:
        lines = [
            "sasl.enabled.mechanisms=PLAIN," + ",".join(SCRAM),
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
        ]
        lines += [
            "listener.name.mtls.ssl.client.auth=required",
            "listener.name.mtls.ssl.truststore.type=PEM",
            f"listener.name.mtls.ssl.truststore.location={self.client_certificate}",
        ]
        for listener in ("saslssl", "saslplain"):
            lines += [f"listener.name.{listener}.{m}.sasl.jaas.config={c}" for m, c in LOGIN_MODULES.items()]
        return lines


@dataclass
class KafkaBroker:
    directory: Path
    port: int
    controller_port: int
    advertised_port: int
    direct_port: int
    secured: Secured | None = None
    child: Child | None = None

    @classmethod
    def create(cls, directory: Path, advertised_port: int = 0, secured: bool = False) -> KafkaBroker:
        port = free_port()
        made = cls(directory, port, free_port(), advertised_port or port, free_port())
        if secured:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "client").mkdir(exist_ok=True)
            ports = (free_port(), free_port(), free_port(), free_port())
            made.secured = Secured(*ports, *self_signed(directory), *self_signed(directory / "client"))
        return made

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
        secured = self.secured.listeners() if self.secured else {}
        extra = "".join(f",{name}://127.0.0.1:{port}" for name, (_, port) in secured.items())
        protocols = "".join(f",{name}:{protocol}" for name, (protocol, _) in secured.items())
        security: list[str] = []
        if self.secured is not None:
            # Kafka reads a PEM keystore as the private key followed by its certificate.
            keystore = d / "keystore.pem"
            keystore.write_bytes(self.secured.key.read_bytes() + self.secured.certificate.read_bytes())
            security = self.secured.properties(keystore)
        properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},DIRECT://127.0.0.1:{self.direct_port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}{extra}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.advertised_port},"
                    f"DIRECT://127.0.0.1:{self.direct_port}{extra}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,DIRECT:PLAINTEXT,CONTROLLER:PLAINTEXT"
                    + protocols,
                    "inter.broker.listener.name=PLAINTEXT",
                    *security,
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
                *(scram_credentials() if self.secured else ()),
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
