"""The whole suite as real processes on this machine: a nats-server, catalog, control, router,
N delivery workers and the gateway, each on a port of its own — what `eventstreams-up`
(`make run`) starts and supervises.

Tests and benches run the same class with knobs of their own (a JetStream cluster, replicas,
a profiled nats-server): devkit/suite.py extends it."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from launcher import service_token
from launcher.nats_server import NatsServer
from launcher.processes import Child, free_port, grpc_serving, start_python, wait_until

# The services other than delivery (whose processes are workers), in start order.
REPLICATED = ("control", "router", "gateway")


@dataclass
class Ports:
    catalog: int
    control: int
    router: int
    delivery: int  # the first worker's; the others take free ports
    gateway: int

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port())

    @classmethod
    def defaults(cls) -> Ports:
        return cls(50051, 50052, 50053, 50054, 8080)


@dataclass
class Suite:
    data_dir: Path
    catalog_db: str
    control_db: str
    delivery_db: str = ""
    ports: Ports = field(default_factory=Ports.free)
    nats_port: int = 0
    nats_monitor_port: int = 0
    workers: int = 1
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    nats: NatsServer | None = None
    children: dict[str, Child] = field(default_factory=dict)
    # Each caller's own credential, by name (launcher/service_token.py): kept in data_dir (a
    # restarted `make run`, and `make produce` in another terminal, use the same ones),
    # generated the first time. The servers get only their hashes.
    credentials: dict[str, str] = field(default_factory=dict)
    token_key: str = ""  # seals accounts' auth tokens at rest (also kept in data_dir; control's only)

    # The listen ports of a service's processes after the first (whose are in `ports`).
    extra: dict[str, list[int]] = field(default_factory=dict)
    # Each process's Prometheus /metrics port, by process name (kept across restarts).
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def replica_count(self, service: str) -> int:
        """How many processes serve one of REPLICATED (delivery's are `workers`)."""
        return 1

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def _metrics_env(self, name: str) -> dict[str, str]:
        port = self.metrics_ports.setdefault(name, free_port())
        return {"ES_METRICS_PORT": str(port)}

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.replica_ports("gateway")]

    @property
    def nats_url(self) -> str:
        assert self.nats is not None
        return self.nats.url

    def replica_ports(self, service: str) -> list[int]:
        return [getattr(self.ports, service), *self.extra.get(service, [])]

    def replica_name(self, service: str, index: int) -> str:
        return service if index == 0 else f"{service}-{index}"

    def target(self, service: str) -> str:
        """How clients name a service: its one address, or every replica's (gRPC's ipv4
        scheme; the channel balances over them)."""
        ports = self.replica_ports(service)
        if len(ports) == 1:
            return self.address(service)
        return "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)

    def sqlite(self, name: str) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / name}.db"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{getattr(self.ports, service)}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "ES_NATS_URL": self.nats_url,
            "ES_CATALOG_ADDRESS": self.address("catalog"),
            "ES_CATALOG_TARGET": self.address("catalog"),
            "ES_CATALOG_DATABASE_URL": self.catalog_db,
            "ES_CONTROL_ADDRESS": self.address("control"),
            "ES_CONTROL_TARGET": self.target("control"),
            "ES_CONTROL_DATABASE_URL": self.control_db,
            "ES_ROUTER_ADDRESS": self.address("router"),
            "ES_ROUTER_TARGET": self.target("router"),
            "ES_DELIVERY_TARGET": self.target("delivery"),
            "ES_DELIVERY_DATABASE_URL": self.delivery_db or self.sqlite("delivery"),
            "ES_GATEWAY_PORT": str(self.ports.gateway),
            "ES_DEV_ACCOUNT_FILE": str(self.data_dir / "dev-account.json"),
            **self.extra_env,
        }

    def credential(self, name: str) -> str:
        """A caller's credential: `producer` publishes, `admin` may call anything."""
        return self.credentials[name]

    def service_env(self, service: str) -> dict[str, str]:
        """What one service's processes see: its own credential, the callers it accepts
        (hashes), and the token key for control alone."""
        env = {"ES_SERVICE_TOKEN": self.credentials.get(service, "")}
        if service != "gateway":  # the gRPC servers
            env["ES_SERVICE_CALLERS"] = service_token.callers_entries(self.credentials)
        if service == "control":
            env["ES_TOKEN_ENCRYPTION_KEY"] = self.token_key
        return env | self.env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = self.credentials or service_token.ensure_credentials(self.data_dir)
        self.token_key = self.token_key or service_token.ensure_token_key(self.data_dir)
        for service in REPLICATED:
            self.extra[service] = [free_port() for _ in range(self.replica_count(service) - 1)]
        self.extra["delivery"] = [free_port() for _ in range(self.workers - 1)]
        try:
            self.start_broker()
            self.start_replica("catalog", 0)
            for service in ("control", "router"):
                for index in range(self.replica_count(service)):
                    self.start_replica(service, index)
            for index in range(self.workers):
                self.start_worker(index)
            for index in range(self.replica_count("gateway")):
                self.start_replica("gateway", index)
        except BaseException:
            self.stop()
            raise

    def start_broker(self) -> None:
        """A single nats-server with JetStream, its store under data_dir."""
        self.nats = NatsServer.create(
            self.data_dir / "jetstream", self.log_dir, self.nats_port, self.nats_monitor_port
        )
        self.nats.start()

    def start_replica(self, service: str, index: int) -> Child:
        """Start (or restart) replica `index` of a service other than delivery."""
        name = self.replica_name(service, index)
        port = self.replica_ports(service)[index]
        module = "gateway" if service == "gateway" else f"services.{service}"
        env = self.service_env(service) | self._metrics_env(name)
        if service == "gateway":
            env["ES_GATEWAY_PORT"] = str(port)
        else:
            env[f"ES_{service.upper()}_ADDRESS"] = f"127.0.0.1:{port}"
        child = start_python(name, module, env, self.log_dir)
        self.children[name] = child
        if service == "gateway":
            wait_until(lambda: self._gateway_up(port), child, name)
        else:
            wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"), child, name, timeout=60)
        return child

    def start_worker(self, index: int, env: dict[str, str] | None = None) -> Child:
        """Start (or restart, on the same port) delivery worker `index` (with extra settings
        of its own); the workers started with the suite make up the delivery target."""
        name = f"delivery-{index}"
        ports = self.replica_ports("delivery")
        while len(ports) <= index:
            self.extra.setdefault("delivery", []).append(free_port())
            ports = self.replica_ports("delivery")
        address = f"127.0.0.1:{ports[index]}"
        settings = {
            **self.service_env("delivery"),
            **self._metrics_env(name),
            **(env or {}),
            "ES_DELIVERY_ADDRESS": address,
        }
        child = start_python(name, "services.delivery", settings, self.log_dir)
        self.children[name] = child
        wait_until(lambda: grpc_serving(address), child, name)
        return child

    def dead(self) -> list[str]:
        """The processes that are not running (nats-server included, as "nats")."""
        down = [name for name, child in self.children.items() if not child.alive()]
        if self.nats is not None and self.nats.child is not None and not self.nats.child.alive():
            down.append("nats")
        return down

    def revive(self, name: str) -> None:
        """Start a process that died again, as it was started."""
        if name == "nats":
            assert self.nats is not None
            self.nats.start()
        elif name.startswith("delivery-"):
            self.start_worker(int(name.removeprefix("delivery-")))
        else:
            service, _, index = name.partition("-")
            self.start_replica(service, int(index or 0))

    def _gateway_up(self, port: int) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)

    def dev_account(self) -> tuple[str, str]:
        saved = json.loads((self.data_dir / "dev-account.json").read_text())
        return saved["account_sid"], saved["auth_token"]

    def stop(self) -> None:
        # Producers of work first, the broker last.
        order = ("gateway", "delivery", "router", "control", "catalog")
        for service in order:
            for name in sorted(n for n in self.children if n.split("-")[0] == service):
                self.children.pop(name).stop()
        for child in self.children.values():
            child.stop()
        self.children.clear()
        if self.nats is not None:
            self.nats.stop()

    def process_logs(self) -> dict[str, Child]:
        """Every process whose log `logs` shows, by name."""
        children = dict(self.children)
        if self.nats is not None and self.nats.child is not None:
            children["nats-server"] = self.nats.child
        return children

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{child.tail()}" for name, child in self.process_logs().items())
