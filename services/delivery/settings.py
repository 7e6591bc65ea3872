from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting


@dataclass(frozen=True)
class Settings:
    delivery_address: str = setting("127.0.0.1:50054", "delivery: gRPC listen address (health, admin)")
    control_target: str = setting("127.0.0.1:50052", "where services reach control (gRPC)")
    nats_url: str = setting("nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
    stream_name: str = setting("EVENTS", "JetStream stream carrying events to delivery")
    subject_prefix: str = setting("events", "subject prefix of that stream")
    stream_max_age_seconds: float = setting(7 * 24 * 3600.0, "JetStream retention (replay window)")
    stream_replicas: int = setting(1, "JetStream stream replicas (3 in production)")
    consumer_name: str = setting("delivery", "delivery: durable consumer shared by all workers")
    fetch_batch: int = setting(256, "delivery: messages pulled per fetch")
    max_in_flight: int = setting(512, "delivery: deliveries under way at once per worker")
    ack_wait_seconds: float = setting(30.0, "delivery: redelivery after this long without an ack")
    webhook_timeout_seconds: float = setting(5.0, "delivery: webhook response timeout (Twilio: 5 s)")
    retry_base_seconds: float = setting(1.0, "delivery: first retry delay")
    retry_max_delay_seconds: float = setting(300.0, "delivery: longest retry delay")
    max_retry_age_seconds: float = setting(4 * 3600.0, "delivery: give up after (Twilio: 4 h)")
    allow_private_destinations: bool = setting(
        False, "delivery: allow loopback/private/link-local webhook destinations (dev profile)"
    )
    user_agent: str = setting("TwilioEventStreams-compatible/0.1", "delivery: webhook User-Agent")
    log_level: str = setting("INFO", "log level of every service")
