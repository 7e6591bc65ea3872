"""The Segment sink: track calls through Segment's HTTP Tracking API batch endpoint."""

from services.delivery.sinks.segment.driver import SegmentDriver

__all__ = ["SegmentDriver"]
