"""The settings every service has: one definition, inherited by each service's Settings."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.service_auth import Callers


@dataclass(frozen=True)
class ServiceSettings:
    log_level: str = setting("INFO", "log level of every service")
    log_format: str = setting(
        "text", "text, or json: one JSON object per line, with event_id / sink_sid where a record has them"
    )
    service_token: str = setting(
        "",
        "this process's own credential (`name.secret`), sent on every gRPC call it makes "
        "(runtime/service_auth.py)",
    )
    service_callers: str = setting(
        "",
        "who may call this service: `name:role:sha256hex` entries, comma-separated "
        "(runtime/service_auth.py); empty: calls are not checked",
    )
    metrics_port: int = setting(
        0,
        "Prometheus /metrics HTTP port of this process (0: none); every process on a host needs "
        "its own (deploy/k8s: 9090 in every pod)",
    )
    metrics_host: str = setting("127.0.0.1", "where /metrics listens (deploy/k8s: 0.0.0.0)")
    otlp_endpoint: str = setting(
        "",
        "OpenTelemetry: where traces go over OTLP/HTTP (e.g. http://collector:4318); empty: "
        "tracing off (router and delivery trace publish → route → JetStream → deliver)",
    )
    trace_sample_ratio: float = setting(
        1.0,
        "OpenTelemetry: the share of Publish calls traced (their events' deliveries follow "
        "the decision); tracing every event costs throughput (make bench)",
    )

    def callers(self) -> Callers | None:
        """The caller list this service checks calls against, or None: not checked."""
        return Callers.parse(self.service_callers) if self.service_callers.strip() else None
