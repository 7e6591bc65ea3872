"""The worker's tally of its sinks' failures (errorlog/tally.py): what the alerts list is
counted — failed attempts with one of Twilio's Event Streams codes, the sink owner's — per
sink and code, counted into the groups at a flush, and kept for the next flush when the
database could not take them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.delivery.errorlog.entry import Entry
from services.delivery.errorlog.groups import Errors, Key
from services.delivery.errorlog.tally import ErrorTally
from services.delivery.errors import DeliveryError, Rejected, ServerError
from services.delivery.intake.envelope import Envelope
from services.delivery.settling.decision import Ack, DeadLetter, HeldBack, Retry
from services.delivery.sinks.base import Outcome, SinkEvent

pytestmark = pytest.mark.unit

OWNER, SUBACCOUNT = "AC" + "a" * 32, "AC" + "c" * 32
SINK, GONE = "DG" + "b" * 32, "DG" + "d" * 32


class MemoryGroups:
    def __init__(self) -> None:
        self.counted: list[tuple[Key, int, str]] = []
        self.fail = False

    async def count(self, key: Key, errors: Errors, now: datetime) -> Entry | None:
        if self.fail:
            raise OSError("database unreachable")
        self.counted.append((key, errors.count, errors.message))
        return None

    async def sweep(self, now: datetime) -> list[Entry]:
        return []

    async def prune(self, quiet_since: datetime, sent_before: datetime) -> None:
        return None


def envelope(sink: str = SINK) -> Envelope:
    return Envelope(
        None,  # type: ignore[arg-type]
        sink,  # type: ignore[arg-type]
        SinkEvent("EV1", "com.example", SUBACCOUNT, b"{}"),  # type: ignore[arg-type]
        1,
        0.0,
        "",
        0.0,
        f"events.{SUBACCOUNT}.{sink}",
    )


def tally(groups: MemoryGroups) -> ErrorTally:
    owners = {SINK: OWNER}
    return ErrorTally(groups, owners.get, timedelta(days=23), clock=lambda: 1_000.0)


async def test_failed_attempts_are_counted_per_owner_sink_and_code() -> None:
    groups = MemoryGroups()
    errors = tally(groups)
    happened = [
        Outcome(ServerError("receiver failed (HTTP 500)"), 500),
        Outcome(None, 200),  # delivered
        Outcome(ServerError("receiver failed (HTTP 503)"), 503),
        Outcome(Rejected("receiver refused (HTTP 404)"), 404),
        Outcome(DeliveryError("no code of Twilio's for it"), None),  # 91300: an alert
        HeldBack(),  # not tried
    ]
    decisions = [
        Retry(1.0, True),
        Ack(),
        Retry(1.0, True),
        DeadLetter("x", 91305),
        Retry(1.0, True),
        Retry(1, False),
    ]
    errors.settled(SINK, [envelope() for _ in happened], happened, decisions)
    # The sink's owner is unknown here (gone from the snapshot): the event's account.
    errors.settled(GONE, [envelope(GONE)], [Outcome(ServerError("x"), 500)], [Retry(1.0, True)])
    assert await errors.flush() == 0
    assert sorted(groups.counted, key=str) == sorted(
        [
            (Key(OWNER, SINK, 91306), 2, "receiver failed (HTTP 503)"),
            (Key(OWNER, SINK, 91305), 1, "receiver refused (HTTP 404)"),
            (Key(OWNER, SINK, 91300), 1, "no code of Twilio's for it"),
            (Key(SUBACCOUNT, GONE, 91306), 1, "x"),
        ],
        key=str,
    )
    groups.counted.clear()
    await errors.flush()
    assert groups.counted == []  # counted once


async def test_counts_the_database_did_not_take_wait_for_the_next_flush() -> None:
    groups = MemoryGroups()
    errors = tally(groups)
    failed = [Outcome(ServerError("receiver failed (HTTP 500)"), 500)]
    errors.settled(SINK, [envelope()], failed, [Retry(1.0, True)])
    groups.fail = True
    with pytest.raises(OSError):
        await errors.flush()
    errors.settled(SINK, [envelope()], failed, [Retry(1.0, True)])
    groups.fail = False
    await errors.flush()
    assert groups.counted == [(Key(OWNER, SINK, 91306), 2, "receiver failed (HTTP 500)")]
