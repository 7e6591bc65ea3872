"""Twilio's error log (Monitor v1 Alerts) for Event Streams, read from the delivery log.

Twilio writes Event Streams' own delivery failures to an account's error log. Ours is a view
over the delivery log rather than rows of its own: every failed attempt is already written
there (by COPY, in group commits), kept for the error logs' 23 days, so an alert costs the
hot path nothing more than a partial index on the failures (delivery_0008).

Which failures are alerts, and at what level, is `level_of`: the codes Twilio documents for
Event Streams — 91304, our own transient fault that a retry gets past, is a warning; the
others are errors. An alert's sid is made from its attempt (`alert_sid`) and read back by
`attempt_of`, so the same alert keeps its sid and a fetch finds its one row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runtime.errors import InvalidArgument

ALERT = "NO"
ERROR, WARNING, NOTICE, DEBUG = "error", "warning", "notice", "debug"
LOG_LEVELS = (ERROR, WARNING, NOTICE, DEBUG)

# Twilio's codes for Event Streams' delivery failures, and the level each is logged at.
LEVELS: dict[int, str] = {
    91300: ERROR,  # the sink rejected the event (too large, unusable configuration)
    91302: ERROR,  # 429: throttled
    91303: ERROR,  # dropped before any attempt (sink gone, event not shaped for its schema)
    91304: WARNING,  # our own transient fault: retried
    91305: ERROR,  # another 4xx: discarded
    91306: ERROR,  # 5xx
    91307: ERROR,  # cannot connect (DNS, refused, TLS, a destination not allowed)
    91308: ERROR,  # no response in time
    93101: ERROR,  # Kinesis write failed
    93102: ERROR,  # AssumeRole failed
    93103: ERROR,  # the stream's shard count could not be read
    93104: ERROR,  # the stream's name or region cannot be resolved
}

# The sid: NO, the attempt's second (8 hex digits, to 2106) and its id (24 hex digits).
SID = re.compile(r"^NO([0-9a-f]{8})([0-9a-f]{24})$")


def level_of(code: int | None) -> str | None:
    """The level Twilio logs a delivery failure with this code at; None: not an alert."""
    return LEVELS.get(code) if code is not None else None


def codes_at(level: str) -> list[int]:
    """The codes logged at `level` (`""`: every alert's); unknown levels are the caller's to refuse."""
    return sorted(code for code, at in LEVELS.items() if not level or at == level)


def window(start: str, end: str) -> tuple[datetime | None, datetime | None]:
    """StartDate and EndDate (Twilio's: `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`, GMT) as the
    times an alert's may be from, inclusive, and must be before: both bounds are inclusive to
    the second (an alert is dated to the second, so the date it shows finds it), a day alone
    to the whole day. Empty: unbounded."""
    since = _moment(start, "StartDate") if start else None
    until = None
    if end:
        moment = _moment(end, "EndDate")
        until = moment + (timedelta(days=1) if _is_day(end) else timedelta(seconds=1))
    if since is not None and until is not None and until <= since:
        raise InvalidArgument("EndDate is before StartDate")
    return since, until


def _is_day(text: str) -> bool:
    return len(text) == len("YYYY-MM-DD")


def _moment(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ: {text!r}") from None
    if moment.tzinfo is None and not _is_day(text):
        raise InvalidArgument(f"{name} must carry a time zone (e.g. a trailing Z): {text!r}")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)


def alert_sid(attempt_id: int, created: datetime) -> str:
    if created.tzinfo is None:  # SQLite gives the log's UTC times back without their zone
        created = created.replace(tzinfo=UTC)
    return f"{ALERT}{int(created.timestamp()):08x}{attempt_id:024x}"


@dataclass(frozen=True)
class AttemptKey:
    """Where an alert's attempt is: its id, and the second it was written in (which finds
    its day's partition without looking into the others)."""

    id: int
    second: datetime

    @property
    def until(self) -> datetime:
        return self.second + timedelta(seconds=1)


def attempt_of(sid: str) -> AttemptKey | None:
    """The attempt an alert sid names; None for a sid that is not one of ours."""
    found = SID.match(sid)
    if found is None:
        return None
    seconds, attempt_id = int(found.group(1), 16), int(found.group(2), 16)
    return AttemptKey(attempt_id, datetime.fromtimestamp(seconds, UTC))
