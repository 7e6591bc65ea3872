"""The NATS sink: a customer's own NATS server, core publishes or JetStream-acknowledged."""

from services.delivery.settings import Settings
from services.delivery.sinks.nats.driver import NatsDriver

__all__ = ["NatsDriver", "driver"]


def driver(settings: Settings) -> NatsDriver:
    return NatsDriver(settings.allow_private_destinations, settings.broker_timeout_seconds)
