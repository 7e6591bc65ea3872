"""The Apache Kafka sink: an idempotent producer per sink, one record per event."""

from services.delivery.settings import Settings
from services.delivery.sinks.kafka.driver import KafkaDriver

__all__ = ["KafkaDriver", "driver"]


def driver(settings: Settings) -> KafkaDriver:
    return KafkaDriver(settings.allow_private_destinations, settings.broker_timeout_seconds)
