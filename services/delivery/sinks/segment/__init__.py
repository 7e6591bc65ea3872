"""The Segment sink: track calls through Segment's HTTP Tracking API batch endpoint."""

from services.delivery.settings import Settings
from services.delivery.sinks.segment.driver import SegmentDriver

__all__ = ["SegmentDriver", "driver"]


def driver(settings: Settings) -> SegmentDriver:
    return SegmentDriver(settings.segment_api_url, settings.segment_timeout_seconds, settings.user_agent)
