"""Sink drivers: one plug-in per sink type behind the SinkDriver protocol."""
