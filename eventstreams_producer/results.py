"""What the router answered for each event, and a batch's outcome sorted into accepted,
rejected and unavailable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from eventstreams_producer.codes import Code
from eventstreams_producer.errors import EventError, EventRejected, PublishUnavailable


class Outcome(Enum):
    ACCEPTED = "accepted"  # stored (OK, or stored with a warning)
    REJECTED = "rejected"  # refused for good
    RETRY = "retry"  # not stored; the same id may be published again


def outcome(code: int, dead_letters: int = 0) -> Outcome:
    """One event's result code sorted. FAILED_PRECONDITION means two things: a discontinued
    type (refused) or an event that could not be projected for some subscription — that one
    IS stored (the sinks that could not take it get a dead letter: `dead_letters` > 0), so it
    counts as accepted with a warning."""
    if code == Code.OK:
        return Outcome.ACCEPTED
    if code == Code.FAILED_PRECONDITION and dead_letters > 0:
        return Outcome.ACCEPTED
    if code in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED):
        return Outcome.RETRY
    return Outcome.REJECTED


@dataclass(frozen=True, slots=True)
class EventResult:
    id: str
    code: int
    message: str = ""
    deliveries: int = 0  # how many sinks it was put on JetStream for
    dead_letters: int = 0  # how many sinks got it as a dead letter (it is stored)

    @property
    def outcome(self) -> Outcome:
        return outcome(self.code, self.dead_letters)

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def warning(self) -> bool:
        """Stored, but not for every subscription (a projection failure, now a dead letter)."""
        return self.accepted and self.code != Code.OK

    def error(self) -> EventError | None:
        """The exception this result stands for (None when accepted)."""
        kind = self.outcome
        if kind is Outcome.ACCEPTED:
            return None
        if kind is Outcome.RETRY:
            return PublishUnavailable(self.id, self.code, self.message)
        return EventRejected.for_code(self.id, self.code, self.message)


@dataclass(frozen=True)
class BatchResult:
    """The final result of every event of a batch, in the order given, after retries."""

    results: list[EventResult]
    attempts: int = 1  # Publish calls made (the first included)

    @property
    def accepted(self) -> list[EventResult]:
        return [r for r in self.results if r.accepted]

    @property
    def errors(self) -> list[EventError]:
        return [e for r in self.results if (e := r.error()) is not None]

    @property
    def rejected(self) -> list[EventRejected]:
        return [e for e in self.errors if isinstance(e, EventRejected)]

    @property
    def unavailable(self) -> list[PublishUnavailable]:
        return [e for e in self.errors if isinstance(e, PublishUnavailable)]

    @property
    def ok(self) -> bool:
        return all(r.accepted for r in self.results)

    def raise_for_errors(self) -> None:
        """Raise the first event's error, if any event was not accepted (as httpx's
        `raise_for_status`)."""
        for result in self.results:
            error = result.error()
            if error is not None:
                raise error
