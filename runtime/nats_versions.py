"""nats-server releases the event streams must not run on.

nats-server 2.14.0 to 2.15.1 (every release of the two lines, each tried) drop, when they
restart, the messages of an interest-retention stream that a consumer holds unacknowledged
if another stream sources it — exactly the events stream with its replay archive: every
event a worker was delivering or had handed back for later is gone, its consumer's
acknowledgement floor past it, never delivered (tests/integration/test_broker_restart.py).
2.10 to 2.12 keep them. The services say so, loudly, when they find such a server; the
lock keeps `make run`'s broker below 2.14 and the Kubernetes manifests run 2.10."""

from __future__ import annotations

import re

# (first, last) affected release, inclusive.
LOSES_HELD_EVENTS_ON_RESTART = ((2, 14, 0), (2, 15, 1))

WARNING = (
    "nats-server %s drops the events a worker holds unacknowledged whenever it restarts "
    "(2.14.0 to 2.15.1, with the replay archive sourcing the events stream): events are "
    "lost. Run nats-server 2.12 or earlier (docs/operations/broker.md)."
)


def release(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a nats-server version string ("2.15.1", "v2.12.8-RC.1");
    None when it is not one."""
    found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", version.strip())
    if found is None:
        return None
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def loses_held_events(version: str) -> bool:
    """Whether a nats-server of this version drops unacknowledged events when it restarts."""
    number = release(version)
    first, last = LOSES_HELD_EVENTS_ON_RESTART
    return number is not None and first <= number <= last
