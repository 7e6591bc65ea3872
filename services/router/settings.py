from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting


@dataclass(frozen=True)
class Settings:
    router_address: str = setting("127.0.0.1:50053", "router: gRPC listen address")
    catalog_target: str = setting("127.0.0.1:50051", "where services reach catalog (gRPC)")
    control_target: str = setting("127.0.0.1:50052", "where services reach control (gRPC)")
    nats_url: str = setting("nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
    stream_name: str = setting("EVENTS", "JetStream stream carrying events to delivery")
    subject_prefix: str = setting("events", "subject prefix of that stream")
    stream_max_age_seconds: float = setting(7 * 24 * 3600.0, "JetStream retention (replay window)")
    stream_replicas: int = setting(1, "JetStream stream replicas (3 in production)")
    publish_timeout_seconds: float = setting(10.0, "router: how long to wait for JetStream acks")
    max_batch: int = setting(1000, "router: most events one Publish call may carry")
    type_cache_seconds: float = setting(30.0, "router: how long an event type's status is trusted")
    log_level: str = setting("INFO", "log level of every service")
