"""The webhook sink: signed HTTP requests (POST, batched POST, or GET)."""

from services.delivery.sinks.webhook.driver import WebhookDriver

__all__ = ["WebhookDriver"]
