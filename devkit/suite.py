"""The launcher's suite (launcher/suite.py) with what the end-to-end tests and the bench turn
besides: the production topology on one machine, a profiled nats-server, metrics off, a
worker's own settings, and the faults the tests inject.

The production topology (`nats_nodes=3, replicas=2`): a JetStream cluster started with
deploy/k8s's own nats.conf and stream settings, two replicas each of gateway, control and
router, N workers. Each replica listens on a port of its own; the others reach a service
through a target naming all of its replicas (gRPC spreads calls over them, round robin, and
stops picking one that is gone)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from devkit.nats_cluster import NatsCluster, manifest_settings
from launcher import suite
from launcher.nats_server import NatsServer
from launcher.processes import Child
from runtime import clients

Ports = suite.Ports


@dataclass
class Suite(suite.Suite):
    nats_profile_port: int = 0  # the single nats-server's Go pprof port (devkit.bench_profile)
    nats_nodes: int = 1  # 3: a JetStream cluster as deploy/k8s runs it (self.cluster)
    cluster: NatsCluster | None = None
    replicas: int = 1  # of gateway, control and router
    metrics: bool = True  # False: no process counts anything (the bench's "off")
    # Settings of worker `index`'s own (e.g. naming it in its User-Agent), at every (re)start.
    worker_env: Callable[[int], dict[str, str]] | None = None

    def replica_count(self, service: str) -> int:
        return self.replicas

    def _metrics_env(self, name: str) -> dict[str, str]:
        return super()._metrics_env(name) if self.metrics else {}

    @property
    def nats_url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        return super().nats_url

    @property
    def env(self) -> dict[str, str]:
        cluster = manifest_settings() if self.cluster is not None else {}
        return super().env | cluster | self.extra_env

    def service_env(self, service: str) -> dict[str, str]:
        """The launcher's, and the NATS user deploy/k8s gives the service when the cluster
        (and its authorization) runs."""
        env = super().service_env(service)
        if self.cluster is not None and service in self.cluster.passwords:
            env |= {"ES_NATS_USER": service, "ES_NATS_PASSWORD": self.cluster.passwords[service]}
        return env

    def channel(self, service: str, replica: int | None = None, as_caller: str = "admin") -> grpc.aio.Channel:
        """A gRPC channel to one of the suite's services (every replica, or the one given),
        carrying a caller's credential (the operator's, unless told)."""
        credential = self.credentials[as_caller]
        if replica is None:
            return clients.channel(self.target(service), credential)
        return clients.channel(f"127.0.0.1:{self.replica_ports(service)[replica]}", credential)

    def start_broker(self) -> None:
        if self.nats_nodes > 1:
            self.cluster = NatsCluster(self.data_dir / "nats", self.log_dir, self.nats_nodes)
            self.cluster.start()
            return
        self.nats = NatsServer.create(
            self.data_dir / "jetstream", self.log_dir, self.nats_port, self.nats_monitor_port
        )
        self.nats.profile_port = self.nats_profile_port
        self.nats.start()

    def start_worker(self, index: int, env: dict[str, str] | None = None) -> Child:
        if env is None and self.worker_env is not None:
            env = self.worker_env(index)
        return super().start_worker(index, env)

    def dead(self) -> list[str]:
        down = super().dead()
        if self.cluster is not None:
            down += [node.name for node in self.cluster.nodes if not node.alive()]
        return down

    def revive(self, name: str) -> None:
        if name.startswith("nats-"):
            assert self.cluster is not None
            self.cluster.start_node(self.cluster.index_of(name))
        else:
            super().revive(name)

    def kill_worker(self, index: int) -> None:
        """SIGKILL: no graceful anything, as a crash would."""
        self.children[f"delivery-{index}"].kill()

    def restart_nats(self, down_seconds: float = 0.0, kill: bool = False) -> None:
        """Stop nats-server (SIGTERM, or SIGKILL: a crash) and start it again on the same
        port and file store."""
        assert self.nats is not None
        if kill:
            self.nats.kill()
        else:
            self.nats.stop()
        time.sleep(down_seconds)
        self.nats.start()

    def stop(self) -> None:
        super().stop()
        if self.cluster is not None:
            self.cluster.stop()

    def process_logs(self) -> dict[str, Child]:
        children = super().process_logs()
        for node in self.cluster.nodes if self.cluster is not None else []:
            if node.child is not None:
                children[node.name] = node.child
        return children
