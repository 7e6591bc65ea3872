from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.jetstream import StreamSettings
from runtime.routing import RoutingSettings
from runtime.service_settings import ServiceSettings


@dataclass(frozen=True)
class Settings(StreamSettings, RoutingSettings, ServiceSettings):
    delivery_address: str = setting("127.0.0.1:50054", "delivery: gRPC listen address (health, admin)")
    control_target: str = setting("127.0.0.1:50052", "where services reach control (gRPC)")
    router_target: str = setting("127.0.0.1:50053", "where services reach router (gRPC)")
    delivery_database_url: str = setting(
        "sqlite+aiosqlite:///./data/delivery.db",
        "delivery: database of the delivery log, dead letters, replays",
    )
    log_retention_seconds: float = setting(
        7 * 24 * 3600.0,
        "delivery: how long delivered attempts are kept (Twilio: events, 7 days); PostgreSQL drops "
        "them by day, so up to a day longer",
    )
    error_log_retention_seconds: float = setting(
        23 * 24 * 3600.0,
        "delivery: how long failed and retrying attempts and dead letters are kept (Twilio: error logs, "
        "23 days); PostgreSQL drops them by day, so up to a day longer",
    )
    error_log_interval_seconds: float = setting(
        1200.0,
        "delivery: a sink's errors of one code are published as com.twilio.error-logs.error.logged "
        "at the first, the 10th, 100th, 1,000th … and otherwise at most once this often (Twilio: 20 min)",
    )
    max_buffered: int = setting(4096, "delivery: events one worker holds at once (queued or in flight)")
    sink_concurrency: int = setting(32, "delivery: requests in flight to one healthy sink")
    sink_batch_concurrency: int = setting(4, "delivery: requests in flight to one healthy batching sink")
    sink_gather_seconds: float = setting(
        0.004,
        "delivery: a batching sink's next call waits up to this long after its last one for more events "
        "(0: never) — fewer calls per event at steady rates, at most this much added to a first attempt",
    )
    failing_sink_buffer: int = setting(
        16, "delivery: events queued for a failing or throttled sink (the rest wait in JetStream)"
    )
    throttle_initial_cap: float = setting(
        100.0, "delivery: calls/s cap after a 429/5xx (Twilio: 100 events/s; one event per call)"
    )
    throttle_cut_factor: float = setting(
        0.99, "delivery: cap multiplier on each further 429/5xx (Twilio: 0.99)"
    )
    throttle_quiet_seconds: float = setting(
        300.0, "delivery: quiet time before a cap grows back (Twilio: 5 min)"
    )
    ack_wait_seconds: float = setting(30.0, "delivery: redelivery after this long without an ack")
    ack_gather_seconds: float = setting(
        0.02, "delivery: a call's acks wait up to this long to share a write with other calls' (0: at once)"
    )
    ordered_max_pending: int = setting(
        1000, "delivery: events of one key-ordered sink a worker holds at once (a failing key's wait here)"
    )
    ordered_concurrency: int = setting(32, "delivery: keys of one key-ordered sink in flight at once")
    ordered_pin_seconds: float = setting(
        5.0, "delivery: a worker silent this long loses its key-ordered sinks to another"
    )
    webhook_timeout_seconds: float = setting(5.0, "delivery: webhook response timeout (Twilio: 5 s)")
    retry_base_seconds: float = setting(1.0, "delivery: first retry delay")
    retry_max_delay_seconds: float = setting(300.0, "delivery: longest retry delay")
    max_retry_age_seconds: float = setting(4 * 3600.0, "delivery: give up after (Twilio: 4 h)")
    allow_private_destinations: bool = setting(
        False, "delivery: allow loopback/private/link-local webhook destinations (dev profile)"
    )
    aws_endpoint_url: str = setting(
        "",
        "delivery: AWS endpoint for STS and the AWS sinks (VPC endpoint, LocalStack, moto); empty: "
        "boto3's own AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> and defaults",
    )
    kinesis_timeout_seconds: float = setting(
        10.0, "delivery: call timeout of the AWS sinks (Kinesis, SQS, SNS, EventBridge, S3) and STS"
    )
    kinesis_threads: int = setting(8, "delivery: threads for boto3 calls per AWS sink type, per worker")
    s3_flush_seconds: float = setting(
        5.0, "delivery: an S3 archive sink writes what it holds after this long at most (sooner when 8 MiB)"
    )
    segment_api_url: str = setting(
        "https://api.segment.io",
        "delivery: Segment HTTP Tracking API base URL (EU: https://events.eu1.segmentapis.com)",
    )
    segment_timeout_seconds: float = setting(10.0, "delivery: Segment request timeout")
    broker_timeout_seconds: float = setting(
        10.0, "delivery: connect and acknowledgement timeout of the broker sinks (RabbitMQ, NATS, Kafka)"
    )
    user_agent: str = setting("TwilioEventStreams-compatible/0.1", "delivery: webhook User-Agent")
