"""Which shared-consumer names lose, on which nats-server releases, the events the workers
hold when the server restarts."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from nats.aio.client import ServerVersion

from runtime.jetstream import StreamSettings, warn_if_unsafe
from runtime.nats_versions import loses_held_events, recovered_before_sources, release

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("version", "consumer", "loses"),
    [
        ("2.10.22", "delivery", False),
        ("2.12.8", "delivery", False),
        ("2.14.0", "delivery", True),
        ("v2.15.1", "delivery", True),
        ("2.15.1-RC.2", "delivery", True),
        ("2.16.0", "delivery", True),  # not known to be fixed
        ("2.15.1", "DELIVERY", False),
        ("2.15.1", "EVENTS_DELIVERY", False),
        ("2.15.1", "JS_SRC_", True),
        ("2.15.1", "workers", True),
        ("0.0.0-unknown", "delivery", False),
        ("not a version", "delivery", False),
    ],
)
def test_the_releases_and_names_that_lose_held_events(version: str, consumer: str, loses: bool) -> None:
    assert loses_held_events(version, consumer) is loses


def test_the_default_shared_consumer_is_recovered_first() -> None:
    assert recovered_before_sources(StreamSettings().consumer_name)


def test_a_release_is_read_from_its_version_string() -> None:
    assert release("v2.12.8-RC.1") == (2, 12, 8)
    assert release("nightly") is None


@pytest.mark.parametrize(
    ("version", "consumer", "said"),
    [("2.15.1", "delivery", True), ("2.15.1", "DELIVERY", False), ("2.12.8", "delivery", False)],
)
def test_a_service_says_so_when_its_broker_would_lose_events(
    version: str, consumer: str, said: bool, caplog: pytest.LogCaptureFixture
) -> None:
    client = cast(Any, SimpleNamespace(connected_server_version=ServerVersion(version)))
    with caplog.at_level(logging.ERROR, logger="runtime.jetstream"):
        warn_if_unsafe(client, consumer)
    assert any("Events are lost" in r.getMessage() for r in caplog.records) is said
