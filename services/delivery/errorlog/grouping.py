"""When a sink's errors are published as an error-log event: one pure decision.

Twilio: "errors go to the Debugger — the first error, then grouped every 20 minutes and at
10/100/1000… errors". Our reading of it: a group is an account's sink and an error code (the
sink's 5xx and its timeouts are two groups); an entry is published

- at the group's first error,
- at its 10th, 100th, 1,000th … error, whenever that comes (a sink failing hard is heard of
  at once, and ever more rarely),
- and otherwise at most once per interval (20 minutes): the errors since the last entry,
  summed up, once the interval since it has passed — at the next error, or by the sweep
  (`due`) when the sink has gone quiet, so the last few errors are not left untold.

A group that stayed quiet longer than the interval starts again with an entry at its next
error: a sink that fails again a week later is heard of at once. Errors are counted per
attempt, as the alerts (Monitor v1) list them: a retried event is an error per failed try.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """A group as its row has it, the errors just added included."""

    errors: int  # every error of the group, ever
    published_errors: int  # `errors` when its last entry was published (0: none yet)
    published_at: float | None  # when it was (epoch seconds); None: never

    @property
    def untold(self) -> int:
        """Errors since the last entry."""
        return self.errors - self.published_errors


def milestone(before: int, after: int) -> bool:
    """Whether an error numbered 1, 10, 100, 1,000 … is among those numbered past `before` up
    to `after`."""
    mark = 1
    while mark <= after:
        if mark > before:
            return True
        mark *= 10
    return False


def publish(group: Group, added: int, now: float, interval: float) -> bool:
    """Whether the group's entry is published now, `added` errors having just been counted in
    (0: the sweep asks)."""
    if group.untold <= 0:
        return False
    if group.published_at is None:
        return True
    if milestone(group.errors - added, group.errors):
        return True
    return now - group.published_at >= interval
