"""The whole suite as real processes: nats-server, catalog, control, router, delivery
workers and the gateway — used by `make run`, the end-to-end tests and the bench.

The same class runs the production topology on one machine (`nats_nodes=3, replicas=2`): a
JetStream cluster started with deploy/k8s's own nats.conf and stream settings, two replicas
each of gateway, control and router, N workers. Each replica listens on a port of its own;
the others reach a service through a target naming all of its replicas (gRPC spreads calls
over them, round robin, and stops picking one that is gone)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from devkit import service_token
from devkit.nats_cluster import NatsCluster, manifest_settings
from devkit.nats_server import NatsServer
from devkit.processes import Child, free_port, grpc_serving, start_python, wait_until
from runtime import clients


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
    nats_profile_port: int = 0  # the single nats-server's Go pprof port (devkit.bench_profile)
    nats_nodes: int = 1  # 3: a JetStream cluster as deploy/k8s runs it (self.cluster)
    cluster: NatsCluster | None = None
    replicas: int = 1  # of gateway, control and router
    children: dict[str, Child] = field(default_factory=dict)
    # Each caller's own credential, by name (devkit/service_token.py): kept in data_dir (a
    # restarted `make run`, and `make produce` in another terminal, use the same ones),
    # generated the first time. The servers get only their hashes.
    credentials: dict[str, str] = field(default_factory=dict)
    token_key: str = ""  # seals accounts' auth tokens at rest (also kept in data_dir; control's only)

    # The listen addresses of replicas after the first (whose are in `ports`).
    extra: dict[str, list[int]] = field(default_factory=dict)
    # Each process's Prometheus /metrics port, by process name (kept across restarts).
    metrics_ports: dict[str, int] = field(default_factory=dict)
    metrics: bool = True  # False: no process counts anything (the bench's "off")
    # Settings of worker `index`'s own (e.g. naming it in its User-Agent), at every (re)start.
    worker_env: Callable[[int], dict[str, str]] | None = None

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def _metrics_env(self, name: str) -> dict[str, str]:
        if not self.metrics:
            return {}
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
        if self.cluster is not None:
            return self.cluster.url
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
        cluster = manifest_settings() if self.cluster is not None else {}
        return {
            "ES_NATS_URL": self.nats_url,
            **cluster,
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

    def channel(self, service: str, replica: int | None = None, as_caller: str = "admin") -> grpc.aio.Channel:
        """A gRPC channel to one of the suite's services (every replica, or the one given),
        carrying a caller's credential (the operator's, unless told)."""
        credential = self.credentials[as_caller]
        if replica is None:
            return clients.channel(self.target(service), credential)
        return clients.channel(f"127.0.0.1:{self.replica_ports(service)[replica]}", credential)

    def service_env(self, service: str) -> dict[str, str]:
        """What one service's processes see: its own credential, the callers it accepts
        (hashes), the token key for control alone, and the NATS user deploy/k8s gives it when
        the cluster (and its authorization) runs."""
        env = {"ES_SERVICE_TOKEN": self.credentials.get(service, "")}
        if service != "gateway":  # the gRPC servers
            env["ES_SERVICE_CALLERS"] = service_token.callers_entries(self.credentials)
        if service == "control":
            env["ES_TOKEN_ENCRYPTION_KEY"] = self.token_key
        env |= self.env
        if self.cluster is not None and service in self.cluster.passwords:
            env |= {"ES_NATS_USER": service, "ES_NATS_PASSWORD": self.cluster.passwords[service]}
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = self.credentials or service_token.ensure_credentials(self.data_dir)
        self.token_key = self.token_key or service_token.ensure_token_key(self.data_dir)
        for service in ("gateway", "control", "router"):
            self.extra[service] = [free_port() for _ in range(self.replicas - 1)]
        self.extra["delivery"] = [free_port() for _ in range(self.workers - 1)]
        try:
            if self.nats_nodes > 1:
                self.cluster = NatsCluster(self.data_dir / "nats", self.log_dir, self.nats_nodes)
                self.cluster.start()
            else:
                self.nats = NatsServer.create(
                    self.data_dir / "jetstream", self.log_dir, self.nats_port, self.nats_monitor_port
                )
                self.nats.profile_port = self.nats_profile_port
                self.nats.start()
            self.start_replica("catalog", 0)
            for index in range(self.replicas):
                self.start_replica("control", index)
            for index in range(self.replicas):
                self.start_replica("router", index)
            for index in range(self.workers):
                self.start_worker(index)
            for index in range(self.replicas):
                self.start_replica("gateway", index)
        except BaseException:
            self.stop()
            raise

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
        if env is None and self.worker_env is not None:
            env = self.worker_env(index)
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
        if self.cluster is not None:
            down += [node.name for node in self.cluster.nodes if not node.alive()]
        return down

    def revive(self, name: str) -> None:
        """Start a process that died again, as it was started."""
        if name == "nats":
            assert self.nats is not None
            self.nats.start()
        elif name.startswith("nats-"):
            assert self.cluster is not None
            self.cluster.start_node(self.cluster.index_of(name))
        elif name.startswith("delivery-"):
            self.start_worker(int(name.removeprefix("delivery-")))
        else:
            service, _, index = name.partition("-")
            self.start_replica(service, int(index or 0))

    def kill_worker(self, index: int) -> None:
        """SIGKILL: no graceful anything, as a crash would."""
        self.children[f"delivery-{index}"].kill()

    def restart_nats(self, down_seconds: float = 0.0) -> None:
        """Stop nats-server and start it again on the same port and file store."""
        assert self.nats is not None
        self.nats.stop()
        time.sleep(down_seconds)
        self.nats.start()

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
        if self.cluster is not None:
            self.cluster.stop()

    def logs(self) -> str:
        children = dict(self.children)
        if self.nats is not None and self.nats.child is not None:
            children["nats-server"] = self.nats.child
        for node in self.cluster.nodes if self.cluster is not None else []:
            if node.child is not None:
                children[node.name] = node.child
        return "\n".join(f"--- {name}\n{child.tail()}" for name, child in children.items())
