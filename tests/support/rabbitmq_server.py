"""A real RabbitMQ broker (Debian's `rabbitmq-server`, which `make test` installs) run as a
process of the test's own: its node name, AMQP and distribution ports, epmd, data and log
directories are all its own, so it neither needs nor touches a system broker.

Its users come from a definitions file read at boot (no `rabbitmqctl`, which would need the
node's Erlang cookie): `writer` may configure, write and read everything on the vhost
`/`; `reader` may only read, so a publish as `reader` is refused (ACCESS_REFUSED). The
exchange `events` (topic) with a queue `all` bound to `#` is there from the start; tests
declare their own with `pika`, as a customer's code would.

A second listener speaks AMQPS with a self-signed certificate for 127.0.0.1 (`certificate`)
and asks for a client certificate `client_authority` issued (`client_certificate`: mutual
TLS); RabbitMQ's TLS options are the node's, one set for every TLS listener.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]

from launcher.processes import Child, free_port, start, wait_until
from tests.support.certificates import client_of_authority, self_signed

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
EPMD_NAMES = ("/usr/bin/epmd", "/usr/lib/erlang/bin/epmd")
WRITER = ("writer", "writer-secret")
READER = ("reader", "reader-secret")
EXCHANGE = "events"
QUEUE = "all"


def installed() -> bool:
    return SERVER.exists() and any(Path(p).exists() for p in EPMD_NAMES)


def password_hash(password: str) -> str:
    """rabbit_password_hashing_sha256: base64(salt ‖ sha256(salt ‖ password)), 4-byte salt."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions() -> dict[str, Any]:
    users = [
        {
            "name": name,
            "password_hash": password_hash(password),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ["administrator"] if name == WRITER[0] else [],
        }
        for name, password in (WRITER, READER)
    ]
    return {
        "users": users,
        "vhosts": [{"name": "/"}],
        "permissions": [
            {"user": WRITER[0], "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
            {"user": READER[0], "vhost": "/", "configure": "", "write": "", "read": ".*"},
        ],
        "exchanges": [
            {
                "name": EXCHANGE,
                "vhost": "/",
                "type": "topic",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            },
        ],
        "queues": [
            {"name": QUEUE, "vhost": "/", "durable": True, "auto_delete": False, "arguments": {}},
        ],
        "bindings": [
            {
                "source": EXCHANGE,
                "vhost": "/",
                "destination": QUEUE,
                "destination_type": "queue",
                "routing_key": "#",
                "arguments": {},
            },
        ],
    }


@dataclass
class RabbitMQServer:
    directory: Path
    port: int
    dist_port: int
    epmd_port: int
    tls_port: int
    certificate: Path
    key: Path
    client_authority: Path
    client_certificate: Path
    client_key: Path
    child: Child | None = None
    epmd: Child | None = None

    @classmethod
    def create(cls, directory: Path) -> RabbitMQServer:
        directory.mkdir(parents=True, exist_ok=True)
        ports = (free_port(), free_port(), free_port(), free_port())
        return cls(directory, *ports, *self_signed(directory), *client_of_authority(directory))

    def tls_url(self) -> str:
        return f"amqps://127.0.0.1:{self.tls_port}"

    @property
    def node(self) -> str:
        return f"evs-test-{self.port}@localhost"

    def url(self, vhost: str = "") -> str:
        """The sink configuration's `url` for this broker (the vhost `/` when empty)."""
        return f"amqp://127.0.0.1:{self.port}" + (f"/{vhost}" if vhost else "")

    def start(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        (d / "definitions.json").write_text(json.dumps(definitions()))
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            f"listeners.ssl.1 = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.certfile = {self.certificate}\n"
            f"ssl_options.keyfile = {self.key}\n"
            f"ssl_options.cacertfile = {self.client_authority}\n"
            "ssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = true\n"
            f"load_definitions = {d / 'definitions.json'}\n"
            "loopback_users = none\n"
            # The test machine's disk may be nearly full; the broker must still take messages.
            "disk_free_limit.absolute = 1MB\n"
        )
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq-env.conf").write_text("")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(d),  # the node's Erlang cookie is written here
            "LANG": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(d / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
        }
        epmd = next(p for p in EPMD_NAMES if Path(p).exists())
        # epmd of its own, as a child, so that nothing of the broker outlives the test run.
        self.epmd = start("epmd", [epmd, "-port", str(self.epmd_port)], env, d / "logs")
        self.child = start("rabbitmq", [str(SERVER)], env, d / "logs")
        wait_until(self._ready, self.child, "rabbitmq-server", timeout=60)

    def _ready(self) -> bool:
        self.blocking(WRITER).close()
        return True

    def blocking(self, user: tuple[str, str] = WRITER) -> pika.BlockingConnection:
        """A pika connection (the customer's client library), for setting up and reading back."""
        return pika.BlockingConnection(
            pika.ConnectionParameters(
                "127.0.0.1",
                self.port,
                credentials=pika.PlainCredentials(*user),
                connection_attempts=1,
                socket_timeout=2,
            )
        )

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=30)
        if self.epmd is not None:
            self.epmd.stop()


def declare(server: RabbitMQServer, exchange: str, queue: str, binding: str = "#") -> None:
    """A durable topic exchange and a durable queue bound to it by `binding`."""
    with server.blocking() as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange, binding)


def drain(
    server: RabbitMQServer, queue: str
) -> list[tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]]:
    """Every message waiting in `queue`, in order, taken off it (acknowledged)."""
    found: list[tuple[Any, Any, bytes]] = []
    with server.blocking() as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return found
            found.append((method, properties, body))
