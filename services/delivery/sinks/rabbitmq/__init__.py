"""The RabbitMQ sink: AMQP 0-9-1 publishes with publisher confirms to the sink's exchange."""

from services.delivery.settings import Settings
from services.delivery.sinks.rabbitmq.driver import RabbitMQDriver

__all__ = ["RabbitMQDriver", "driver"]


def driver(settings: Settings) -> RabbitMQDriver:
    return RabbitMQDriver(settings.allow_private_destinations, settings.broker_timeout_seconds)
