"""The whole suite as real processes: nats-server, catalog, control, router, delivery
workers and the gateway — used by `make run`, the end-to-end tests and the bench."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from devkit import service_token
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
    children: dict[str, Child] = field(default_factory=dict)
    # The shared secret of internal gRPC calls: kept in data_dir (a restarted `make run`, and
    # `make produce` in another terminal, use the same one), generated the first time.
    service_token: str = ""
    token_key: str = ""  # seals accounts' auth tokens at rest (also kept in data_dir)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def sqlite(self, name: str) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / name}.db"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{getattr(self.ports, service)}"

    @property
    def env(self) -> dict[str, str]:
        assert self.nats is not None
        return {
            "ES_NATS_URL": self.nats.url,
            "ES_CATALOG_ADDRESS": self.address("catalog"),
            "ES_CATALOG_TARGET": self.address("catalog"),
            "ES_CATALOG_DATABASE_URL": self.catalog_db,
            "ES_CONTROL_ADDRESS": self.address("control"),
            "ES_CONTROL_TARGET": self.address("control"),
            "ES_CONTROL_DATABASE_URL": self.control_db,
            "ES_ROUTER_ADDRESS": self.address("router"),
            "ES_ROUTER_TARGET": self.address("router"),
            "ES_DELIVERY_TARGET": self.address("delivery"),
            "ES_DELIVERY_DATABASE_URL": self.delivery_db or self.sqlite("delivery"),
            "ES_GATEWAY_PORT": str(self.ports.gateway),
            "ES_DEV_ACCOUNT_FILE": str(self.data_dir / "dev-account.json"),
            "ES_SERVICE_TOKEN": self.service_token,
            "ES_TOKEN_ENCRYPTION_KEY": self.token_key,
            **self.extra_env,
        }

    def channel(self, service: str) -> grpc.aio.Channel:
        """A gRPC channel to one of the suite's services, carrying the service token."""
        return clients.channel(self.address(service), self.service_token)

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.service_token = self.service_token or service_token.ensure(self.data_dir)
        self.token_key = self.token_key or service_token.ensure_token_key(self.data_dir)
        self.nats = NatsServer.create(
            self.data_dir / "jetstream", self.log_dir, self.nats_port, self.nats_monitor_port
        )
        self.nats.start()
        try:
            self._start_service("catalog", "services.catalog", self.address("catalog"))
            self._start_service("control", "services.control", self.address("control"))
            self._start_service("router", "services.router", self.address("router"))
            for index in range(self.workers):
                self.start_worker(index)
            gateway = start_python("gateway", "gateway", self.env, self.log_dir)
            self.children["gateway"] = gateway
            wait_until(self._gateway_up, gateway, "gateway")
        except BaseException:
            self.stop()
            raise

    def start_worker(self, index: int, env: dict[str, str] | None = None) -> Child:
        """Start (or restart) delivery worker `index` (with extra settings of its own);
        worker 0 answers the delivery address."""
        name = f"delivery-{index}"
        address = self.address("delivery") if index == 0 else f"127.0.0.1:{free_port()}"
        settings = {**self.env, **(env or {}), "ES_DELIVERY_ADDRESS": address}
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
        elif name == "gateway":
            gateway = start_python("gateway", "gateway", self.env, self.log_dir)
            self.children["gateway"] = gateway
            wait_until(self._gateway_up, gateway, "gateway")
        else:
            self._start_service(name, f"services.{name}", self.address(name))

    def kill_worker(self, index: int) -> None:
        """SIGKILL: no graceful anything, as a crash would."""
        self.children[f"delivery-{index}"].kill()

    def restart_nats(self, down_seconds: float = 0.0) -> None:
        """Stop nats-server and start it again on the same port and file store."""
        assert self.nats is not None
        self.nats.stop()
        time.sleep(down_seconds)
        self.nats.start()

    def _start_service(self, name: str, module: str, address: str) -> None:
        child = start_python(name, module, self.env, self.log_dir)
        self.children[name] = child
        wait_until(lambda: grpc_serving(address), child, name, timeout=60)

    def _gateway_up(self) -> bool:
        with urllib.request.urlopen(f"{self.gateway_url}/healthz", timeout=1) as response:
            return bool(response.status == 200)

    def dev_account(self) -> tuple[str, str]:
        saved = json.loads((self.data_dir / "dev-account.json").read_text())
        return saved["account_sid"], saved["auth_token"]

    def stop(self) -> None:
        # Producers of work first, the broker last.
        for name in [
            "gateway",
            *sorted(n for n in self.children if n.startswith("delivery")),
            "router",
            "control",
            "catalog",
        ]:
            child = self.children.pop(name, None)
            if child is not None:
                child.stop()
        if self.nats is not None:
            self.nats.stop()

    def logs(self) -> str:
        children = dict(self.children)
        if self.nats is not None and self.nats.child is not None:
            children["nats-server"] = self.nats.child
        return "\n".join(f"--- {name}\n{child.tail()}" for name, child in children.items())
