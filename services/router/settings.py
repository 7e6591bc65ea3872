from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.jetstream import StreamSettings
from runtime.routing import RoutingSettings
from runtime.service_settings import ServiceSettings


@dataclass(frozen=True)
class Settings(StreamSettings, RoutingSettings, ServiceSettings):
    router_address: str = setting("127.0.0.1:50053", "router: gRPC listen address")
    catalog_target: str = setting("127.0.0.1:50051", "where services reach catalog (gRPC)")
    control_target: str = setting("127.0.0.1:50052", "where services reach control (gRPC)")
    publish_timeout_seconds: float = setting(10.0, "router: how long to wait for JetStream acks")
    publish_attempt_seconds: float = setting(
        2.0, "router: a publish JetStream has not answered by then is sent again (same Nats-Msg-Id)"
    )
    max_batch: int = setting(1000, "router: most events one Publish call may carry")
    type_cache_seconds: float = setting(30.0, "router: how long an event type's status is trusted")
