"""The webhook sink: signed HTTP requests (POST, batched POST, or GET)."""

from services.delivery.settings import Settings
from services.delivery.sinks.webhook.driver import WebhookDriver

__all__ = ["WebhookDriver", "driver"]


def driver(settings: Settings) -> WebhookDriver:
    return WebhookDriver(
        settings.webhook_timeout_seconds, settings.allow_private_destinations, settings.user_agent
    )
