"""The event Event Streams publishes about its own sinks' failures, where the delivery workers
(who publish it) and the router (who routes it) meet.

Twilio publishes the entries of an account's error log as `com.twilio.error-logs.error.logged`
(ErrorLogs.Error v2), its own delivery failures among them. Ours name the failing sink in
their CloudEvent `source` — the sink's Events v1 path, `/v1/Sinks/DG…` — and the router never
routes one to the sink it is about: a sink subscribed to the error log would otherwise hear of
its own failures by the very deliveries that fail, and each of those would be a failure more.
"""

from __future__ import annotations

ERROR_LOGGED = "com.twilio.error-logs.error.logged"
SCHEMA_ID = "ErrorLogs.Error"
SCHEMA_VERSION = 2
PRODUCT_NAME = "Event Streams"

_SINKS = "/v1/Sinks/"


def source_of(sink_sid: str) -> str:
    """The CloudEvent source of an error-log event about this sink."""
    return _SINKS + sink_sid


def sink_about(type_name: str, source: str) -> str | None:
    """The sink an event is an error-log entry about, which must never be given it; None for
    every other event."""
    if type_name != ERROR_LOGGED or not source.startswith(_SINKS):
        return None
    return source[len(_SINKS) :] or None
