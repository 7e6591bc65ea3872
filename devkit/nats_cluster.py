"""A JetStream cluster as deploy/k8s runs it, on this machine: three `nats-server` processes
started with deploy/k8s/base/nats.conf itself (its users, limits and cluster block), each
with a store of its own, the routes pointed at local ports. Used by the multi-node
topology (devkit/suite.py), its failover tests and `make bench`."""

from __future__ import annotations

import functools
import json
import re
import secrets
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from launcher.nats_server import MEMORY_LIMIT, binary
from launcher.processes import ROOT, Child, free_port, start, wait_until

K8S_BASE = ROOT / "deploy" / "k8s" / "base"
# The settings of the k8s base that shape the stream: the topology runs with the same.
STREAM_SETTINGS = ("ES_STREAM_REPLICAS", "ES_STREAM_MAX_BYTES", "ES_STREAM_PARTITIONS")


def manifest_settings(names: tuple[str, ...] = STREAM_SETTINGS) -> dict[str, str]:
    """Those of `names` the k8s base sets for every process (its event-streams-config)."""
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    generator = next(g for g in kustomization["configMapGenerator"] if g["name"] == "event-streams-config")
    literals = dict(str(item).split("=", 1) for item in generator["literals"])
    return {name: literals[name] for name in names if name in literals}


def on_this_machine(conf: str, store: Path) -> str:
    """The one edit: the store on this machine instead of the pod's volume."""
    return re.sub(r"(?m)^(\s*store_dir\s*:\s*)\S+", rf"\g<1>{store}", conf)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


@dataclass
class NatsNode:
    name: str
    port: int
    monitor_port: int
    cluster_port: int
    store_dir: Path
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def healthy(self, full: bool = False) -> bool:
        """Serving JetStream; `full`: also caught up with the cluster (its meta leader known,
        its streams current)."""
        query = "" if full else "?js-enabled-only=true"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz{query}", timeout=1) as r:
            return bool(r.status == 200)


@dataclass
class NatsCluster:
    root: Path
    log_dir: Path | None
    size: int = 3
    conf: str = ""  # the server configuration; deploy/k8s/base/nats.conf when empty
    env: dict[str, str] = field(default_factory=dict)  # what the pods' environment adds
    # The files the configuration includes, by name (written beside it); deploy/k8s/base's
    # cluster.conf when the configuration is the base's.
    includes: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # NATS user -> password
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.conf:
            self.conf = (K8S_BASE / "nats.conf").read_text()
            self.includes = {"cluster.conf": (K8S_BASE / "cluster.conf").read_text(), **self.includes}
        users = re.findall(r"user:\s*(\w+)\s*\n\s*password:\s*\$(\w+)", self.conf)
        for user, variable in users:
            if variable not in self.env:
                # A letter first: nats-server reads an unquoted variable's value that starts
                # with a digit as a number (`3Q…` fails to parse, and the node exits).
                self.env[variable] = self.passwords.get(user) or f"p{secrets.token_hex(16)}"
            self.passwords[user] = self.env[variable]
        if not self.nodes:
            self.nodes = [
                NatsNode(f"nats-{i}", free_port(), free_port(), free_port(), self.root / f"nats-{i}")
                for i in range(self.size)
            ]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (as ES_NATS_URL takes them)."""
        return ",".join(node.url for node in self.nodes)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> None:
        for index in range(len(self.nodes)):
            self.start_node(index, wait=False)
        for node in self.nodes:
            wait_until(node.healthy, node.child, node.name, timeout=60)
        self.wait_healthy()

    def start_node(self, index: int, wait: bool = True) -> None:
        node = self.nodes[index]
        node.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.root / f"{node.name}.conf"
        for name, text in self.includes.items():
            # Shared by the nodes: written once, never while a running node may read it. Its
            # routes are overridden by the command line below.
            include = self.root / name
            if not include.exists() or include.read_text() != text:
                include.write_text(text)
        config.write_text(on_this_machine(self.conf, node.store_dir / "jetstream"))
        argv = [binary(), "-c", str(config), "-a", "127.0.0.1", "-p", str(node.port)]
        argv += ["-m", str(node.monitor_port), "-P", str(self.root / f"{node.name}.pid")]
        if len(self.nodes) > 1:
            routes = ",".join(f"nats://127.0.0.1:{n.cluster_port}" for n in self.nodes)
            argv += ["--cluster", f"nats://127.0.0.1:{node.cluster_port}", "--routes", routes]
        env = {**self.env, "SERVER_NAME": node.name, "GOMEMLIMIT": MEMORY_LIMIT}
        node.child = start(node.name, argv, env, self.log_dir)
        if wait:
            wait_until(node.healthy, node.child, node.name, timeout=60)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Until every running node is fully healthy (the meta leader elected, streams current)."""
        for node in self.nodes:
            if node.alive():
                wait_until(functools.partial(node.healthy, full=True), node.child, node.name, timeout)

    def kill(self, index: int) -> None:
        """SIGKILL: the node is gone without a word, as a crashed pod."""
        child = self.nodes[index].child
        if child is not None:
            child.kill()

    def stop(self) -> None:
        for node in self.nodes:
            if node.child is not None:
                node.child.stop()

    def stream_leader(self, stream: str) -> str | None:
        """The name of the node leading `stream`, as a running node reports it."""
        for node in self.nodes:
            if not node.alive():
                continue
            try:
                jsz = get_json(f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true")
            except OSError:
                continue
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail.get("name") == stream:
                        leader = (detail.get("cluster") or {}).get("leader")
                        if leader:
                            return str(leader)
        return None

    def stream_leaders(self, streams: list[str]) -> dict[str, str | None]:
        """Each of `streams`' leader (None: none now), as a running node reports it."""
        return {stream: self.stream_leader(stream) for stream in streams}

    def index_of(self, name: str) -> int:
        return next(i for i, node in enumerate(self.nodes) if node.name == name)

    def tails(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.child.tail()}" for n in self.nodes if n.child is not None)
