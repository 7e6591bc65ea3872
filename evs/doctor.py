"""`evs doctor`: is a running suite well — each check one line, ok or what is wrong."""

from __future__ import annotations

import functools
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evs.api import Api
from evs.errors import CliError
from evs.profiles import Profile

DEFAULT_SERVICES = (
    "catalog=127.0.0.1:50051,control=127.0.0.1:50052,router=127.0.0.1:50053,delivery=127.0.0.1:50054"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def parse_services(text: str) -> dict[str, str]:
    services = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, address = part.partition("=")
        if not sep or not address:
            raise CliError(f"--grpc: {part!r} is not name=host:port")
        services[name] = address
    return services


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except CliError as exc:
        return Check(name, False, exc.message)
    except Exception as exc:  # whatever a probe meets is the answer, not a crash
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def grpc_health(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise CliError(f"{address}: {status}")
    return f"{address} SERVING"


def nats_health(monitor: str) -> str:
    url = f"{monitor.rstrip('/')}/healthz?js-enabled-only=true"
    with urllib.request.urlopen(url, timeout=3) as response:
        body = json.loads(response.read() or b"{}")
    return f"{monitor}: JetStream {body.get('status', 'ok')}"


def run(api: Api, profile: Profile, nats_monitor: str, services: dict[str, str]) -> list[Check]:
    def gateway() -> str:
        with urllib.request.urlopen(f"{profile.url.rstrip('/')}/healthz", timeout=3) as response:
            return f"{profile.url} answers ({response.status})"

    def sinks() -> str:
        found = api.get("/v1/Sinks", {"PageSize": "1"})
        return (
            f"credentials accepted; control's database answers ({len(found['sinks'])} sink on the first page)"
        )

    def catalog() -> str:
        found = api.get("/v1/Types", {"PageSize": "1"})
        return f"catalog's database answers ({found['types'][0]['type'] if found['types'] else 'no types'})"

    def delivery() -> str:
        api.get(
            f"/2010-04-01/Accounts/{profile.account_sid}/Usage/Records.json", {"Category": "event-streams"}
        )
        return "delivery's database answers (usage read)"

    checks = [
        _check("gateway", gateway),
        _check("credentials + control database", sinks),
        _check("catalog database", catalog),
        _check("delivery database", delivery),
    ]
    checks += [
        _check(f"{name} gRPC health", functools.partial(grpc_health, a)) for name, a in services.items()
    ]
    checks.append(_check("NATS JetStream", lambda: nats_health(nats_monitor)))
    return checks
