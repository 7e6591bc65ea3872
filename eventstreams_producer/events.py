"""The event a producer publishes, built and checked once: its id (the dedupe key) is fixed
at build time, so every retry and every republish after a crash carries the same one."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventstreams_producer.codes import Code
from eventstreams_producer.errors import InvalidEvent

# The router's limits (services/router/publishing.py): checked here too, so a bad event is
# refused before it costs a call.
MAX_ID = 128
MAX_SOURCE = 1024


def new_event_id() -> str:
    """A unique event id in Twilio's shape (EZ + 32 hex digits)."""
    return "EZ" + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Event:
    """One event, as Publish takes it. `data_json` is the payload serialised once (a JSON
    object); `data` parses it back."""

    id: str
    account_sid: str
    type: str
    schema_version: int
    source: str
    time: datetime
    data_json: str

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data_json)
        return parsed


def default_source(account_sid: str, event_id: str) -> str:
    return f"/2010-04-01/Accounts/{account_sid}/Events/{event_id}"


def make_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    schema_version: int,
    account_sid: str,
    source: str | None = None,
    time: datetime | None = None,
    id: str | None = None,
) -> Event:
    """Build and check an event. `id` defaults to a new unique one, `time` to now (a naive
    datetime is taken as UTC), `source` to the account's events path. Raises InvalidEvent for
    what the router would refuse anyway (no type, version < 1, data not a JSON object…)."""
    event_id = id if id is not None else new_event_id()

    def refuse(reason: str) -> InvalidEvent:
        return InvalidEvent(event_id, Code.INVALID_ARGUMENT, reason)

    if not event_id or len(event_id) > MAX_ID:
        raise refuse(f"event id is required (at most {MAX_ID} characters)")
    if not event_type:
        raise refuse("event type is required")
    if not account_sid:
        raise refuse("account_sid is required")
    if schema_version < 1:
        raise refuse(f"schema_version must be 1 or more, not {schema_version}")
    if not isinstance(data, Mapping):
        raise refuse(f"data must be a JSON object (a mapping), not {type(data).__name__}")
    try:
        data_json = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise refuse(f"data is not JSON-serialisable: {exc}") from exc
    source = source if source is not None else default_source(account_sid, event_id)
    if not source or len(source) > MAX_SOURCE:
        raise refuse(f"source is required (at most {MAX_SOURCE} characters)")
    moment = time if time is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Event(event_id, account_sid, event_type, schema_version, source, moment, data_json)
