"""A group's error-log entry as Twilio publishes it: `com.twilio.error-logs.error.logged`,
ErrorLogs.Error v2, about the sink (its CloudEvent source, runtime/error_logs.py).

The data carries the fields of the catalogue's schema we know (the schema types each as a
string, so one we do not know is left out rather than sent null): `sid` (`NO…`, the event's
id too), `account_sid` (the sink owner's), `date_created`, `level` (`ERROR`, or `WARNING` for
91304, as the alerts log it), `correlation_sid` (the sink), `product_name` (`Event Streams`),
`error_code` (a string) and `payload` — a JSON *string*, as Twilio's is — telling what the
entry groups: the last error's message, how many errors since the last entry (`count`) and in
the group (`total`)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from eventstreams_producer import Event, make_event
from runtime import error_logs
from runtime.times import iso
from services.delivery.reads.alerts import level_of

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


@dataclass(frozen=True)
class Entry:
    account_sid: str  # the sink owner's
    sink_sid: str
    error_code: int
    count: int  # errors since the group's last entry
    total: int  # errors of the group, ever
    message: str  # the last error's
    at: datetime


def new_sid() -> str:
    """An entry's sid, fixed when it is written to the outbox: every republication of the
    entry carries it (the sinks' dedupe key)."""
    return "NO" + secrets.token_hex(16)


def data_of(entry: Entry, sid: str) -> dict[str, str]:
    payload = {
        "resource_sid": entry.sink_sid,
        "error_code": entry.error_code,
        "message": entry.message,
        "count": entry.count,
        "total": entry.total,
        "more_info": MORE_INFO.format(code=entry.error_code),
    }
    return {
        "sid": sid,
        "account_sid": entry.account_sid,
        "date_created": iso(entry.at),
        "level": (level_of(entry.error_code) or "error").upper(),
        "correlation_sid": entry.sink_sid,
        "product_name": error_logs.PRODUCT_NAME,
        "error_code": str(entry.error_code),
        "payload": json.dumps(payload, separators=(",", ":")),
    }


def event_of(entry: Entry, sid: str | None = None) -> Event:
    sid = sid or new_sid()
    return make_event(
        error_logs.ERROR_LOGGED,
        data_of(entry, sid),
        schema_version=error_logs.SCHEMA_VERSION,
        account_sid=entry.account_sid,
        source=error_logs.source_of(entry.sink_sid),
        time=entry.at,
        id=sid,
    )
