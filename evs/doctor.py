"""`evs doctor`: is a running suite well — each check one line, ok or what is wrong."""

from __future__ import annotations

import functools
import json
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evs.api import Api
from evs.errors import CliError
from evs.profiles import DEFAULT_URL, Profile

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


def dev_account_file(cwd: Path, env: Mapping[str, str]) -> Path:
    """Where `make run` wrote its development account: ES_DEV_ACCOUNT_FILE, as the services
    read it, else data/dev-account.json under the checkout `make run` was started in."""
    found = env.get("ES_DEV_ACCOUNT_FILE")
    return Path(found) if found else cwd / "data" / "dev-account.json"


def dev_account_profile(cwd: Path, env: Mapping[str, str]) -> Profile | None:
    """`make run`'s development account as a profile (at EVS_URL, else make run's gateway),
    when its file is there: a suite just started can be checked before any profile is added."""
    try:
        saved = json.loads(dev_account_file(cwd, env).read_text())
        sid, token = str(saved["account_sid"]), str(saved["auth_token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Profile(env.get("EVS_URL", DEFAULT_URL), sid, sid, token)


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


def run(
    api: Api | None,
    profile: Profile | None,
    gateway_url: str,
    nats_monitor: str,
    services: dict[str, str],
    no_credentials: str = "",
) -> list[Check]:
    """Every check; without credentials (`api` None, `no_credentials` saying why) those that
    need none still run, and the ones that do fail with the reason."""

    def gateway() -> str:
        with urllib.request.urlopen(f"{gateway_url.rstrip('/')}/healthz", timeout=3) as response:
            return f"{gateway_url} answers ({response.status})"

    def credentials_needed() -> str:
        raise CliError(no_credentials)

    def sinks() -> str:
        assert api is not None
        found = api.get("/v1/Sinks", {"PageSize": "1"})
        return (
            f"credentials accepted; control's database answers ({len(found['sinks'])} sink on the first page)"
        )

    def catalog() -> str:
        assert api is not None
        found = api.get("/v1/Types", {"PageSize": "1"})
        return f"catalog's database answers ({found['types'][0]['type'] if found['types'] else 'no types'})"

    def delivery() -> str:
        assert api is not None and profile is not None
        api.get(
            f"/2010-04-01/Accounts/{profile.account_sid}/Usage/Records.json", {"Category": "event-streams"}
        )
        return "delivery's database answers (usage read)"

    def needing_credentials(probe: Callable[[], str]) -> Callable[[], str]:
        return probe if api is not None else credentials_needed

    checks = [
        _check("gateway", gateway),
        _check("credentials + control database", needing_credentials(sinks)),
        _check("catalog database", needing_credentials(catalog)),
        _check("delivery database", needing_credentials(delivery)),
    ]
    checks += [
        _check(f"{name} gRPC health", functools.partial(grpc_health, a)) for name, a in services.items()
    ]
    checks.append(_check("NATS JetStream", lambda: nats_health(nats_monitor)))
    return checks
