"""The workers' shared consumer and nats-server's recovery order.

From 2.14.0 (every release to 2.15.1 tried), a nats-server restarting recovers a stream's
consumers in the order of their names and, with the first one recovered, drops the messages
of an interest-retention stream that no consumer recovered so far holds. The replay
archive's copying consumer on the events stream is a durable named `JS_SRC_…` whose floor
is past everything it copied: a shared consumer whose name sorts after it (`delivery`)
loses, at every restart, each event a worker held unacknowledged — in flight, or handed back
for later — its floor moved past them, never delivered. One whose name sorts before it is
recovered first and keeps them (tests/integration/test_broker_restart.py). 2.10 to 2.12 keep
them either way (their copying consumer is not recovered).

So the shared consumer's default name is `DELIVERY`, the former default is retired where
it is found (services/delivery/former_consumer.py), and a service whose configured name
sorts late on such a server says so in its log."""

from __future__ import annotations

import re

# The first release that recovers the archive's copying consumer before later-named ones.
RECOVERS_SOURCES_FIRST = (2, 14, 0)
# The copying consumers' names start so: a shared consumer must sort before them.
SOURCE_CONSUMER_PREFIX = "JS_SRC_"

WARNING = (
    "nats-server %s drops, whenever it restarts, the events the workers hold unacknowledged "
    "on the consumer %r: its name sorts after the replay archive's copying consumer "
    "(JS_SRC_…). Events are lost. Name it so that it sorts first (ES_CONSUMER_NAME, default "
    "DELIVERY; docs/operations/broker.md)."
)


def release(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a nats-server version string ("2.15.1", "v2.12.8-RC.1");
    None when it is not one."""
    found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", version.strip())
    if found is None:
        return None
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def recovered_before_sources(consumer: str) -> bool:
    """Whether a consumer of this name is recovered before the archive's copying consumer."""
    return consumer < SOURCE_CONSUMER_PREFIX


def loses_held_events(version: str, consumer: str) -> bool:
    """Whether a nats-server of this version drops the events held on `consumer` when it
    restarts."""
    number = release(version)
    if number is None or number < RECOVERS_SOURCES_FIRST:
        return False
    return not recovered_before_sources(consumer)
