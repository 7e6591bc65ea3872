"""A group's error-log entry: valid for the catalogue's ErrorLogs.Error v2, in Twilio's shape
(payload a JSON string, error_code a string), about the sink its source names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import fastjsonschema
import pytest

from runtime import error_logs
from services.catalog import catalogue
from services.delivery.errorlog.entry import Entry, event_of

pytestmark = pytest.mark.unit

ACCOUNT, SINK = "AC" + "a" * 32, "DG" + "b" * 32
AT = datetime(2026, 12, 7, 15, 4, 5, 678_000, tzinfo=UTC)


def schema() -> dict[str, object]:
    [document] = [
        s.document
        for s in catalogue.schema_versions()
        if s.schema_id == error_logs.SCHEMA_ID and s.version == error_logs.SCHEMA_VERSION
    ]
    return document


@pytest.mark.parametrize(("code", "level"), [(91306, "ERROR"), (91304, "WARNING"), (93101, "ERROR")])
def test_an_entry_is_an_error_logs_event_of_the_catalogue(code: int, level: str) -> None:
    entry = Entry(ACCOUNT, SINK, code, count=9, total=10, message="receiver failed (HTTP 500)", at=AT)
    event = event_of(entry)
    [described] = [t for t in catalogue.event_types() if t.type == error_logs.ERROR_LOGGED]
    assert described.schema_id == error_logs.SCHEMA_ID
    data = event.data
    fastjsonschema.compile(schema())(data)
    assert (event.type, event.schema_version, event.account_sid) == (error_logs.ERROR_LOGGED, 2, ACCOUNT)
    assert event.id == data["sid"] and event.id.startswith("NO") and len(event.id) == 34
    assert event.source == f"/v1/Sinks/{SINK}"
    assert error_logs.sink_about(event.type, event.source) == SINK
    assert data["date_created"] == "2026-12-07T15:04:05.678Z"
    assert (data["level"], data["error_code"], data["product_name"]) == (level, str(code), "Event Streams")
    assert (data["account_sid"], data["correlation_sid"]) == (ACCOUNT, SINK)
    assert json.loads(data["payload"]) == {
        "resource_sid": SINK,
        "error_code": code,
        "message": "receiver failed (HTTP 500)",
        "count": 9,
        "total": 10,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


def test_each_entry_has_its_own_sid_unless_given_one() -> None:
    entry = Entry(ACCOUNT, SINK, 91306, count=1, total=1, message="x", at=AT)
    assert event_of(entry).id != event_of(entry).id
    assert event_of(entry, "NO" + "1" * 32).id == "NO" + "1" * 32
