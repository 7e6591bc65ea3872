"""What a delivery log list is filtered by, read from its request and checked once: the
outcome, the event id, the event type and the StartDate/EndDate window (the error log's
forms and inclusive bounds, `alerts.window`). A value that cannot be is InvalidArgument,
which the gateway answers 400 with Twilio's body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runtime.errors import InvalidArgument
from runtime.text import control_character
from services.delivery.reads.alerts import window

OUTCOMES = ("delivered", "retrying", "failed", "parked")
# The log's type column is this wide: a longer type names no attempt.
MAX_TYPE = 200


@dataclass(frozen=True)
class LogFilter:
    """Empty strings and None: not filtered by. `since` inclusive, `until` exclusive."""

    outcome: str = ""
    event_id: str = ""
    event_type: str = ""
    since: datetime | None = None
    until: datetime | None = None


def log_filter(
    outcome: str = "", event_id: str = "", event_type: str = "", start_date: str = "", end_date: str = ""
) -> LogFilter:
    if outcome and outcome not in OUTCOMES:
        raise InvalidArgument(f"Outcome must be one of {', '.join(OUTCOMES)}")
    for name, text in (("EventId", event_id), ("EventType", event_type)):
        if text and (found := control_character(text)) is not None:
            raise InvalidArgument(f"{name} must not contain control characters (found {found})")
    if len(event_type) > MAX_TYPE:
        raise InvalidArgument(f"EventType is at most {MAX_TYPE} characters")
    since, until = window(start_date, end_date)
    return LogFilter(outcome, event_id, event_type, since, until)
